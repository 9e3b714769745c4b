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

// waitReady is what a wait asks for to wait until the target is ready
// (RUNNING, past its ready check, and healthy if it has a health check),
// as the protocol spells it.
const waitReady = "READY"

// DefaultWaitTimeout is how long wait waits unless --timeout says otherwise.
const DefaultWaitTimeout = 30 * time.Second

// waitRequest is the data of the wait extension.
type waitRequest struct {
	State     string `json:"state"`
	TimeoutMS int64  `json:"timeout_ms"`
}

// setupWait defines --state and --timeout, which shadows the global
// -timeout: the request's own bound is then -timeout's default plus the
// wait. The state may also come after the job: wait web ready.
func setupWait(fs *flag.FlagSet) runFunc {
	state := fs.String("state", "RUNNING", "the state to wait for, or ready")
	timeout := fs.Duration("timeout", DefaultWaitTimeout, "how long to wait")
	return func(s *session, args []string) int {
		st := strings.ToUpper(*state)
		if len(args) > 1 {
			stateSet := false
			fs.Visit(func(f *flag.Flag) { stateSet = stateSet || f.Name == "state" })
			if stateSet {
				return s.usageError("wait", fmt.Errorf("the state is given twice (%s and --state %s)", args[1], *state))
			}
			st = strings.ToUpper(args[1])
		}
		if !slices.Contains(processStates, st) && st != waitReady {
			return s.usageError("wait", fmt.Errorf("unknown state %q: use one of %s, or ready", strings.ToLower(st), strings.Join(processStates, ", ")))
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
	done := state
	if state == waitReady {
		done = "ready"
	}
	return s.outcome(target, resp, words{ctlproto.CmdWait, done, "already " + done})
}
