package jobfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The real-time signal range of Linux as seen by programs: the kernel's
// 32 and 33 are taken by the C library's threads, so SIGRTMIN is 34.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// errSignalSyntax is the tail of every "unknown signal" message.
const errSignalSyntax = `(expected a name like "TERM" or "SIGUSR1", "RTMIN+3", or a number 1-31/34-64)`

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
// 1-31 or 34-64. Signals 32 and 33 belong to the C library's threads.
func ParseSignal(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && validSignal(n) {
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	if sig, ok := realtime(name); ok {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %s %s", quoteShort(s), errSignalSyntax)
}

// realtime reads RTMIN, RTMIN+n, RTMAX and RTMAX-n (without SIG).
func realtime(name string) (syscall.Signal, bool) {
	for _, rt := range []struct {
		prefix string
		base   int
		sign   int
	}{{"RTMIN", sigRTMin, 1}, {"RTMAX", sigRTMax, -1}} {
		rest, ok := strings.CutPrefix(name, rt.prefix)
		if !ok {
			continue
		}
		n := 0
		if rest != "" {
			var err error
			if n, err = rtOffset(rest, rt.sign); err != nil {
				return 0, false
			}
		}
		if sig := rt.base + rt.sign*n; sig >= sigRTMin && sig <= sigRTMax {
			return syscall.Signal(sig), true
		}
	}
	return 0, false
}

// rtOffset reads the "+3" of RTMIN+3 (sign 1) or the "-2" of RTMAX-2 (sign -1).
func rtOffset(s string, sign int) (int, error) {
	want := "+"
	if sign < 0 {
		want = "-"
	}
	digits, ok := strings.CutPrefix(s, want)
	if !ok || digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, errors.New("bad real-time signal offset")
	}
	return strconv.Atoi(digits)
}

// validSignal reports whether n is a signal a job can be sent.
func validSignal(n int) bool {
	return n >= 1 && n <= 31 || n >= sigRTMin && n <= sigRTMax
}

// SignalName returns the conventional name of sig, like "SIGTERM" or
// "SIGRTMIN+3"; ParseSignal reads it back.
func SignalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	switch {
	case sig == sigRTMax:
		return "SIGRTMAX"
	case sig == sigRTMin:
		return "SIGRTMIN"
	case sig > sigRTMin && sig < sigRTMax:
		return "SIGRTMIN+" + strconv.Itoa(int(sig)-sigRTMin)
	}
	return "signal " + strconv.Itoa(int(sig))
}
