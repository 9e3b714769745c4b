// Package pid1 carries out the duties of a container's init process
// (it lives in the directory init/, a name Go does not allow for a
// package): with every signal caught before anything else runs (package
// init/early, during package initialisation), it makes taskmasterd a child
// subreaper when it is not PID 1, reaps every zombie,
// runs the job supervisor and the control server, shuts everything down in
// order, and decides taskmasterd's exit code.
package pid1

import (
	"syscall"

	"github.com/taskmaster/taskmaster/sigcatch"
)

// Signals are the signals taskmasterd receives, caught from the start
// (package early: before main runs).
type Signals = sigcatch.Caught

// Forwardable returns the signals single-command mode passes on to its
// command: every caught one.
func Forwardable() []syscall.Signal {
	var out []syscall.Signal
	for _, s := range sigcatch.Catchable() {
		out = append(out, s.(syscall.Signal))
	}
	return append(out, sigcatch.Signals...)
}
