package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// Readiness and health, as the instance state machine sees them:
//
//	          spawn (with ready)         ready check passes
//	STOPPED ─────────────────▶ STARTING ───────────────────▶ RUNNING
//	                              │ deadline                    │ health check failed retries
//	                              ▼                             ▼ times in a row, or watchdog
//	                  STOPPING (then a failed start:   STOPPING (then a restart)
//	                  BACKOFF or FATAL, with the reason)
//
// The checks themselves (checks.go, probe.go) run on the supervisor; they
// call becomeReady, and stopThen for the unhealthy.

// afterStop is what happens once a stop the instance asked of itself is
// over: the stop of a process that did not become ready in time, or of an
// unhealthy one.
type afterStop uint8

const (
	thenNothing afterStop = iota // a stop asked for from outside: STOPPED
	thenFail                     // a failed start: BACKOFF or FATAL
	thenRestart                  // a restart
)

// becomeReady moves a STARTING instance whose process passed its ready
// check to RUNNING; why says how it proved it, for the log.
func (in *instance) becomeReady(rt runtime, why string) {
	if in.launching {
		in.earlyReady = why // told before the start's outcome: it is Run's next event
		return
	}
	if in.state != Starting {
		return
	}
	in.cancelTimer() // the deadline
	detail := why
	if in.detail != "" {
		detail = in.detail + "; " + why // still the reason it was started, if a restart
	}
	in.set(rt, Running, detail)
}

// notReady handles the deadline of the ready check: the process is
// stopped, and its start counts as failed.
func (in *instance) notReady(rt runtime, lastError string) {
	why := fmt.Sprintf("not ready after %v", in.ready.Deadline)
	if lastError != "" {
		why += " (" + lastError + ")"
	}
	in.stopThen(rt, why, thenFail)
}

// stopThen stops the instance's process as a stop does (stopsignal, then
// SIGKILL after stoptime), and does then once the process group is gone.
// A stop or kill asked for meanwhile replaces then.
func (in *instance) stopThen(rt runtime, why string, then afterStop) {
	if in.state != Starting && in.state != Running {
		return
	}
	rt.signalGroup(in.pgid, in.spec.StopSignal)
	in.then, in.thenWhy = then, why
	in.set(rt, Stopping, fmt.Sprintf("sent %s: %s", jobfile.SignalName(in.spec.StopSignal), why))
	in.arm(rt, in.spec.StopTime)
}

// afterStop does what stopThen was asked to, once the stop is over.
func (in *instance) afterStop(rt runtime) {
	then, why := in.then, in.thenWhy
	in.then, in.thenWhy = thenNothing, ""
	in.restartDue = false // a start asked for meanwhile is what follows anyway
	switch then {
	case thenFail:
		in.failedStart(rt, why)
	case thenRestart:
		if !rt.mayRestart(in) {
			in.set(rt, Stopped, why+"; not restarted: stopping")
			return
		}
		in.restart(rt, "restarted: "+why)
	}
}

// ErrNotReady is returned by WaitReady when an instance will not become
// ready without help.
var ErrNotReady = errors.New("will not become ready")

// WaitReady waits until every instance of target is ready: RUNNING (which,
// for a job with a ready check, means it passed it), and, for a job with a
// health check, healthy (its last check passed). It fails at once when an
// instance is FATAL.
func (s *Supervisor) WaitReady(ctx context.Context, target string) error {
	var ins []*instance
	return s.await(ctx, func() error {
		var err error
		ins, err = s.resolve(target)
		return err
	}, func() bool {
		for _, in := range ins {
			if in.state == Fatal {
				return true
			}
			if !in.isReady() {
				return false
			}
		}
		return true
	}, func() error {
		var errs []error
		for _, in := range ins {
			if in.state == Fatal {
				errs = append(errs, fmt.Errorf("%s: %w: FATAL: %s", in.name, ErrNotReady, in.detail))
			}
		}
		return errors.Join(errs...)
	})
}

// isReady reports whether the instance is ready, as WaitReady means it.
func (in *instance) isReady() bool {
	if in.state != Running {
		return false
	}
	return in.spec.Health == nil || in.chk.health == HealthHealthy
}

// readiness is the instance's "ready" in status: "waiting" while STARTING
// with a ready check, "ready" once RUNNING after passing it, "" otherwise.
func (in *instance) readiness() string {
	if in.ready == nil {
		return ""
	}
	switch in.state {
	case Starting:
		return "waiting"
	case Running:
		return "ready"
	}
	return ""
}
