package ctl

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/internal/jsonx"
)

// words is how a command that answers success or redundant reports them.
type words struct {
	cmd       ctlproto.Command
	done      string // after success
	redundant string // after redundant
}

var (
	startWords  = words{ctlproto.CmdStart, "started", "already running"}
	stopWords   = words{ctlproto.CmdStop, "stopped", "already stopped"}
	killWords   = words{ctlproto.CmdKill, "killed", "not running"}
	repairWords = words{ctlproto.CmdRepair, "repaired", "nothing to repair"}
	deleteWords = words{ctlproto.CmdDelete, "deleted", "nothing to delete"}
	reloadWords = words{ctlproto.CmdReload, "reloaded", "unchanged"}
)

// result is the JSON line -json prints for a command without data of its
// own: {"job":"web","response":"success"}.
type result struct {
	Job      string `json:"job,omitempty"`
	Response string `json:"response"`
	Error    string `json:"error,omitempty"`
	File     string `json:"file,omitempty"` // pull: where the job file was written
}

// runSimple returns the runner of a command that sends one request per
// target and prints one line per reply.
func runSimple(w words) runFunc {
	return func(s *session, targets []string) int {
		code := ExitOK
		for _, job := range targets {
			resp, err := s.do(w.cmd, job, nil, 0)
			if err != nil {
				// The connection is gone: the other targets would fail alike.
				return max(code, s.failed(err))
			}
			code = max(code, s.outcome(job, resp, w))
		}
		return code
	}
}

// outcome prints the reply to a command that answers success or redundant
// and returns its exit code.
func (s *session) outcome(job string, resp *ctlproto.Response, w words) int {
	switch resp.Kind {
	case ctlproto.KindSuccess:
		s.said(job, resp.Kind, w.done)
		return ExitOK
	case ctlproto.KindRedundant:
		s.said(job, resp.Kind, w.redundant)
		return ExitFail
	}
	return s.refused(job, resp)
}

// said prints "job: text", or its JSON line.
func (s *session) said(job string, kind ctlproto.Kind, text string) {
	if s.opts.json {
		s.printJSON(result{Job: job, Response: string(kind)})
		return
	}
	fmt.Fprintf(s.out, "%s: %s\n", job, text)
}

// refused reports a reply that is not what the command hoped for (fail,
// invalid, or a kind that makes no sense for it) and returns ExitFail.
func (s *session) refused(job string, resp *ctlproto.Response) int {
	msg := replyError(resp)
	if s.opts.json {
		s.printJSON(result{Job: job, Response: string(resp.Kind), Error: msg})
	}
	fmt.Fprintf(s.errw, "taskmasterctl: %s: %s\n", visible(job), visible(msg))
	return ExitFail
}

// replyError is the text a refusal is reported with.
func replyError(resp *ctlproto.Response) string {
	switch resp.Kind {
	case ctlproto.KindFail:
		if resp.Error == "" {
			return "failed (taskmasterd gave no reason)"
		}
		return resp.Error
	case ctlproto.KindInvalid:
		if resp.Error == "" {
			return "invalid request"
		}
		if cmd, ok := unknownCommand(resp.Error); ok && newerCommands[cmd] {
			return fmt.Sprintf("invalid request: %s (this taskmasterd is older than taskmasterctl: it does not have %s yet)", resp.Error, cmd)
		}
		return "invalid request: " + resp.Error
	case ctlproto.KindRedundant:
		return "nothing to do"
	}
	return fmt.Sprintf("unexpected reply %q from taskmasterd", resp.Kind)
}

// printJSON prints v on one line.
func (s *session) printJSON(v any) int {
	b, err := jsonx.Marshal(v)
	if err != nil {
		fmt.Fprintf(s.errw, "taskmasterctl: %v\n", err)
		return ExitFail
	}
	fmt.Fprintf(s.out, "%s\n", b)
	return ExitOK
}

// newerCommands are the extensions a taskmasterd older than this client
// may lack, and refuse as unknown.
var newerCommands = map[string]bool{
	string(ctlproto.CmdAttach): true, string(ctlproto.CmdSignal): true, string(ctlproto.CmdShutdown): true,
}

// unknownCommand reads the command out of the invalid reply an older
// taskmasterd gives a command it lacks: unknown command "attach".
func unknownCommand(reason string) (string, bool) {
	quoted, ok := strings.CutPrefix(reason, "unknown command ")
	if !ok {
		return "", false
	}
	cmd, err := strconv.Unquote(quoted)
	return cmd, err == nil
}
