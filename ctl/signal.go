package ctl

import (
	"flag"
	"fmt"
	"strings"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/internal/signame"
)

// runSignal sends a signal to the process groups of each target. The
// signal is checked here first, as a job file's stopsignal would be, so
// that a typo is a usage error that reaches no daemon.
func runSignal(s *session, args []string) int {
	sig, err := signame.Parse(args[0])
	if err != nil {
		fmt.Fprintf(s.errw, "taskmasterctl: signal: %v\nusage: taskmasterctl signal SIG JOB...\n", err)
		return ExitUsage
	}
	name := signame.Name(sig)
	w := words{cmd: ctlproto.CmdSignal, done: "sent " + name, redundant: "not running"}
	code := ExitOK
	for _, job := range args[1:] {
		resp, err := s.do(ctlproto.CmdSignal, job, []byte(name), 0)
		if err != nil {
			return max(code, s.failed(err))
		}
		code = max(code, s.outcome(job, resp, w))
	}
	return code
}

func setupShutdown(fs *flag.FlagSet) runFunc {
	var yes bool
	fs.BoolVar(&yes, "y", false, "do not ask for confirmation")
	fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	return func(s *session, _ []string) int { return s.shutdown(yes, s.interactive) }
}

// shutdown asks taskmasterd to shut down, as SIGTERM does, then waits for
// it to be gone: it closes the connection as it exits. At a terminal it
// asks first, unless yes.
func (s *session) shutdown(yes, atTerminal bool) int {
	addr := withDefaultPort(s.opts.addr)
	if atTerminal && !yes && !s.confirm(fmt.Sprintf("Shut down taskmasterd at %s, stopping every job? [y/N] ", addr)) {
		fmt.Fprintln(s.errw, "taskmasterctl: shutdown cancelled")
		return ExitFail
	}
	resp, err := s.do(ctlproto.CmdShutdown, "", nil, 0)
	if err != nil {
		return s.failed(err)
	}
	if resp.Kind != ctlproto.KindSuccess {
		return s.refused("shutdown", resp)
	}
	if !s.opts.json {
		fmt.Fprintf(s.out, "taskmasterd at %s: shutting down\n", addr)
	}
	ctx, cancel := s.bound(0)
	defer cancel()
	if err := s.client.WaitClosed(ctx); err != nil {
		if s.ctx.Err() != nil {
			return s.failed(errInterrupted)
		}
		fmt.Fprintf(s.errw, "taskmasterctl: taskmasterd at %s has not stopped within %v (see -timeout): it may still be stopping its jobs\n", addr, s.opts.timeout)
		return ExitUnreachable
	}
	s.said("taskmasterd", ctlproto.KindSuccess, "stopped")
	return ExitOK
}

// confirm asks question and reads the answer from stdin, a byte at a time
// (not to take more than the line), and reports whether it is yes.
func (s *session) confirm(question string) bool {
	fmt.Fprint(s.out, question)
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := s.in.Read(b)
		if n == 1 && b[0] != '\n' {
			line = append(line, b[0])
		}
		if n == 1 && b[0] == '\n' || err != nil {
			break
		}
	}
	answer := strings.ToLower(strings.TrimSpace(string(line)))
	return answer == "y" || answer == "yes"
}
