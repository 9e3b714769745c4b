package sigcatch

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// NoPreempt is the GODEBUG setting that stops the Go runtime from sending
// SIGURG to its own threads to preempt goroutines.
const NoPreempt = "asyncpreemptoff=1"

// linkedGODEBUG is the GODEBUG default linked into the runtime: `make
// build` links asyncpreemptoff=1 as runtime.godebugDefault, and says so
// here (both with -X), so that the runtime starts without async
// preemption and no re-exec is needed. A plain `go build` leaves it empty.
var linkedGODEBUG string

// PreemptionOff reports whether the Go runtime started with async
// preemption off, read as the runtime reads it: the linked default
// first, then the environment's GODEBUG, the last asyncpreemptoff=N of
// each winning, and a value that is not a number ignored. Only then is
// every SIGURG one that someone else sent.
func PreemptionOff() bool {
	off := false
	for _, godebug := range []string{linkedGODEBUG, os.Getenv("GODEBUG")} {
		if n, ok := lastSetting(godebug, "asyncpreemptoff"); ok {
			off = n != 0
		}
	}
	return off
}

// lastSetting returns the value of the last key=N of a GODEBUG list
// whose N is a number, and whether there is one.
func lastSetting(godebug, key string) (n int, ok bool) {
	for _, kv := range strings.Split(godebug, ",") {
		k, v, found := strings.Cut(kv, "=")
		if !found || k != key {
			continue
		}
		if i, err := strconv.ParseInt(v, 10, 32); err == nil { // as the runtime parses it
			n, ok = int(i), true
		}
	}
	return n, ok
}

// Caught are the signals a process receives once CatchAll has run.
type Caught struct {
	// Child receives SIGCHLD. It has room for one: SIGCHLDs coalesce, and
	// one pending value is enough to make a reaper look again.
	Child chan os.Signal
	// Other receives every other catchable signal.
	Other chan os.Signal
}

// Catchable are the signals CatchAll catches besides SIGCHLD and
// Signals, through os/signal or its own handler: all of them but SIGKILL
// and SIGSTOP (which cannot be caught), SIGPROF (the Go runtime takes it
// for its profiler and never passes it on), SIGCHLD (which has its own
// channel), 32 and 34 (which os/signal cannot catch: Notify does) and 33
// (which the runtime keeps for itself and ignores when it comes from
// elsewhere). SIGURG is caught only if PreemptionOff: else the runtime's
// own would come too. The realtime signals 35 to 64 are caught too, so
// that none of them can kill the process by its default action.
func Catchable() []os.Signal {
	var sigs []os.Signal
	for n := syscall.Signal(1); n <= 64; n++ {
		switch n {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGPROF, syscall.SIGCHLD, 32, 33, 34:
			continue
		case syscall.SIGURG:
			if !PreemptionOff() {
				continue
			}
		}
		sigs = append(sigs, n)
	}
	return sigs
}

// CatchAll starts catching every catchable signal: SIGCHLD on Child, the
// Catchable ones and Signals on Other. Caught signals are reset to their
// default action in children at exec, so children start with default
// signal handling (signal.Ignore would not do: an ignored signal stays
// ignored across exec).
//
// Only SIGCHLD and the signals the Go runtime must see itself (those
// Handleable refuses: the faults, SIGABRT and SIGPIPE) go through
// os/signal, which enables each signal by a round trip to a goroutine
// locked to its thread: some sixty of those were milliseconds and more
// than a hundred thread switches in every `taskmasterd -- CMD`. The
// others are Handle's, one system call each.
//
// The error says when Handle cannot catch signals on this architecture:
// then os/signal catches them all but 32 and 34, and either of those still
// ends the process.
func CatchAll() (*Caught, error) {
	c := &Caught{Child: make(chan os.Signal, 1), Other: make(chan os.Signal, 64)}
	signal.Notify(c.Child, syscall.SIGCHLD)
	var runtimes []os.Signal
	var own []syscall.Signal
	for _, s := range Catchable() {
		if sig := s.(syscall.Signal); Handleable(sig) {
			own = append(own, sig)
		} else {
			runtimes = append(runtimes, s)
		}
	}
	signal.Notify(c.Other, runtimes...)
	if err := Handle(c.Other, append(own, Signals...)...); err != nil {
		for _, sig := range own {
			signal.Notify(c.Other, sig)
		}
		return c, fmt.Errorf("signals 32 and 34 cannot be caught and would end taskmasterd: %w", err)
	}
	return c, nil
}
