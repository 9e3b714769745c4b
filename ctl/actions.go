package ctl

import (
	"fmt"

	"github.com/taskmaster/taskmaster/ctlproto"
)

var (
	// reloadAllWords report the protocol's restart: every job file reloaded.
	reloadAllWords = words{ctlproto.CmdRestart, "reloaded every job file", "unchanged"}
	// restartWords report the start that ends "restart JOB".
	restartWords = words{ctlproto.CmdStart, "restarted", "already running"}
)

// runRestart: alone, the protocol's restart (reload every job file); with
// jobs, a stop then a start of each, which is what a person typing
// "restart web" means.
func runRestart(s *session, jobs []string) int {
	if len(jobs) == 0 {
		resp, err := s.do(ctlproto.CmdRestart, "", nil, 0)
		if err != nil {
			return s.failed(err)
		}
		return s.outcome("all", resp, reloadAllWords)
	}
	code := ExitOK
	for _, job := range jobs {
		c, err := s.restartOne(job)
		if err != nil {
			return max(code, s.failed(err))
		}
		code = max(code, c)
	}
	return code
}

// restartOne stops then starts job. A redundant stop (it was not running)
// is fine: the start still follows.
func (s *session) restartOne(job string) (int, error) {
	resp, err := s.do(ctlproto.CmdStop, job, nil, 0)
	if err != nil {
		return 0, err
	}
	if resp.Kind != ctlproto.KindSuccess && resp.Kind != ctlproto.KindRedundant {
		return s.refused(job, resp), nil
	}
	resp, err = s.do(ctlproto.CmdStart, job, nil, 0)
	if err != nil {
		return 0, err
	}
	return s.outcome(job, resp, restartWords), nil
}

func runList(s *session, _ []string) int {
	names, code := s.list()
	if code != ExitOK {
		return code
	}
	if s.opts.json {
		return s.printJSON(struct {
			Jobs []string `json:"jobs"`
		}{append([]string{}, names...)}) // [] rather than null when there are none
	}
	for _, n := range names {
		fmt.Fprintln(s.out, n)
	}
	return ExitOK
}

// list asks for the job names; on failure it has reported why.
func (s *session) list() ([]string, int) {
	resp, err := s.do(ctlproto.CmdList, "", nil, 0)
	if err != nil {
		return nil, s.failed(err)
	}
	if resp.Kind != ctlproto.KindList {
		return nil, s.refused("list", resp)
	}
	names, err := ctlproto.DecodeJobList(resp.Data)
	if err != nil {
		fmt.Fprintf(s.errw, "taskmasterctl: list: bad reply from taskmasterd: %v\n", err)
		return nil, ExitFail
	}
	return names, ExitOK
}
