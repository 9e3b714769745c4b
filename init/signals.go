// Package pid1 carries out the duties of a container's init process
// (it lives in the directory init/, a name Go does not allow for a
// package): it catches every signal before anything else runs, makes
// taskmasterd a child subreaper when it is not PID 1, reaps every zombie,
// runs the job supervisor and the control server, shuts everything down in
// order, and decides taskmasterd's exit code.
package pid1

import (
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Signals are the signals taskmasterd receives, caught from the start.
type Signals struct {
	// Child receives SIGCHLD. It has room for one: SIGCHLDs coalesce, and
	// one pending value is enough to make the reaper look again.
	Child chan os.Signal
	// Other receives every other catchable signal.
	Other chan os.Signal
}

// catchable are the signals taskmasterd catches: all of them but SIGKILL
// and SIGSTOP (which cannot be caught), SIGPROF (the Go runtime takes it
// for its profiler and never passes it on) and SIGCHLD (which has its own
// channel). SIGURG is caught only if OwnSIGURG could stop the runtime from
// using it. The realtime signals 34 to 64 are caught too, so that none of
// them can kill taskmasterd by its default action.
func catchable() []os.Signal {
	var sigs []os.Signal
	for n := syscall.Signal(1); n <= 64; n++ {
		switch n {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGPROF, syscall.SIGCHLD, 32, 33:
			continue // 32 and 33 are reserved by the C library's threads
		case syscall.SIGURG:
			if !strings.Contains(os.Getenv("GODEBUG"), noPreempt) {
				continue
			}
		}
		sigs = append(sigs, n)
	}
	return sigs
}

// CatchSignals starts catching every catchable signal. Call it first in
// main: until it has run, SIGTERM would kill taskmasterd (or, as PID 1, be
// dropped by the kernel) and SIGPIPE would kill it on a closed stdout.
//
// Caught signals are reset to their default action in children at exec,
// so jobs start with default signal handling (signal.Ignore would not be:
// an ignored signal stays ignored across exec).
func CatchSignals() *Signals {
	s := &Signals{Child: make(chan os.Signal, 1), Other: make(chan os.Signal, 64)}
	signal.Notify(s.Child, syscall.SIGCHLD)
	signal.Notify(s.Other, catchable()...)
	return s
}

// Forwardable returns the signals single-command mode passes on to its
// command: every caught one.
func Forwardable() []syscall.Signal {
	var out []syscall.Signal
	for _, s := range catchable() {
		out = append(out, s.(syscall.Signal))
	}
	return out
}
