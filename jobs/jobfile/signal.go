package jobfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/internal/signame"
)

// The real-time signal range of Linux as seen by programs (package
// signame says why).
const (
	sigRTMin = signame.RTMin
	sigRTMax = signame.RTMax
)

// errSignalSyntax is the tail of every "unknown signal" message.
const errSignalSyntax = signame.Syntax

// reserved maps the signals taskmasterd keeps for itself to the reason,
// so that forwardsignals can say why one is refused.
var reserved = map[syscall.Signal]string{
	unix.SIGKILL: "it cannot be caught, so taskmasterd never receives it",
	unix.SIGSTOP: "it cannot be caught, so taskmasterd never receives it",
	unix.SIGCHLD: "taskmasterd uses it to reap exited processes",
	unix.SIGPROF: "the Go runtime takes it for its profiler, so taskmasterd never receives it",
	unix.SIGTERM: "taskmasterd shuts down (stopping every job) on it",
	unix.SIGINT:  "taskmasterd shuts down (stopping every job) on it",
	unix.SIGQUIT: "taskmasterd shuts down (stopping every job) on it",
	unix.SIGHUP:  "taskmasterd reloads the job directory on it",
	unix.SIGUSR1: "taskmasterd reopens its log files on it",
	unix.SIGPIPE: "it reports writes to closed pipes inside taskmasterd itself",
}

// setStopSignal decodes stopsignal and stopSig. SIGSTOP is refused: it
// suspends a process instead of ending it, so the stop would always run
// into stoptime and SIGKILL.
func setStopSignal(p *parser, raw json.RawMessage) error {
	sig, err := asSignal(raw)
	if err == nil && sig == unix.SIGSTOP {
		err = errors.New("SIGSTOP suspends a process instead of ending it; use TERM, INT, QUIT or KILL")
	}
	p.spec.StopSignal = sig
	return err
}

// setForwardSignals decodes forwardsignals, kept sorted and without duplicates.
func setForwardSignals(p *parser, raw json.RawMessage) error {
	list, err := asList(raw, `an array of signals, like ["USR2", "WINCH"]`)
	if err != nil {
		return err
	}
	sigs := []syscall.Signal{}
	for i, el := range list {
		sig, err := asSignal(el)
		if err == nil && reserved[sig] != "" {
			err = fmt.Errorf("%s cannot be forwarded: %s", SignalName(sig), reserved[sig])
		}
		if err != nil {
			return fmt.Errorf("element %d: %w", i+1, err)
		}
		sigs = append(sigs, sig)
	}
	slices.Sort(sigs)
	p.spec.ForwardSignals = slices.Compact(sigs)
	return nil
}

// asSignal decodes a signal written as a name or a number.
func asSignal(raw json.RawMessage) (syscall.Signal, error) {
	if isNumber(raw) {
		n, err := strconv.Atoi(string(raw))
		if err != nil || !validSignal(n) {
			return 0, fmt.Errorf("unknown signal %s %s", describe(raw), errSignalSyntax)
		}
		return syscall.Signal(n), nil
	}
	s, err := asString(raw, "a signal name or number")
	if err != nil {
		return 0, err
	}
	return ParseSignal(s)
}

// ParseSignal reads a signal the way job files write it: a name with or
// without the SIG prefix, in any case ("TERM", "SIGTERM", "usr1"), a
// real-time signal ("RTMIN", "RTMIN+3", "RTMAX-2"), or a decimal number
// 1-31 or 34-64 (package signame).
func ParseSignal(s string) (syscall.Signal, error) { return signame.Parse(s) }

// validSignal reports whether n is a signal a job can be sent.
func validSignal(n int) bool { return signame.Valid(n) }

// SignalName returns the conventional name of sig, like "SIGTERM" or
// "SIGRTMIN+3"; ParseSignal reads it back.
func SignalName(sig syscall.Signal) string { return signame.Name(sig) }
