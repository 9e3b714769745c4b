package ctl

import (
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// processStates are the states a wait can ask for.
var processStates = []string{"STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL"}

// DefaultWaitTimeout is how long wait waits unless --timeout says otherwise.
const DefaultWaitTimeout = 30 * time.Second

// waitRequest is the data of the wait extension.
type waitRequest struct {
	State     string `json:"state"`
	TimeoutMS int64  `json:"timeout_ms"`
}

// setupWait defines --state and --timeout, which shadows the global
// -timeout: the request's own bound is then -timeout's default plus the
// wait.
func setupWait(fs *flag.FlagSet) runFunc {
	state := fs.String("state", "RUNNING", "the state to wait for")
	timeout := fs.Duration("timeout", DefaultWaitTimeout, "how long to wait")
	return func(s *session, args []string) int {
		st := strings.ToUpper(*state)
		if !slices.Contains(processStates, st) {
			return s.usageError("wait", fmt.Errorf("unknown state %q: use one of %s", *state, strings.Join(processStates, ", ")))
		}
		if *timeout <= 0 {
			return s.usageError("wait", fmt.Errorf("--timeout must be positive, got %v", *timeout))
		}
		return s.wait(args[0], st, *timeout)
	}
}

func (s *session) wait(target, state string, timeout time.Duration) int {
	// At least 1ms: 0 would mean the daemon's default.
	data, _ := json.Marshal(waitRequest{State: state, TimeoutMS: max(timeout.Milliseconds(), 1)})
	resp, err := s.do(ctlproto.CmdWait, target, data, timeout)
	if err != nil {
		return s.failed(err)
	}
	return s.outcome(target, resp, words{ctlproto.CmdWait, state, "already " + state})
}
