// Package signame reads and names signals the way job files and
// taskmasterctl write them: "TERM", "SIGUSR1", "usr2", "RTMIN+3", "15".
// It is apart from the job file parser so that taskmasterctl, which checks
// the signal of its signal command, need not carry the parser.
package signame

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"golang.org/x/sys/unix"
)

// The real-time signal range of Linux as seen by programs: the kernel's
// 32 and 33 are taken by the C library's threads, so SIGRTMIN is 34.
const (
	RTMin = 34
	RTMax = 64
)

// Syntax is the tail of every "unknown signal" message: what is accepted.
const Syntax = `(expected a name like "TERM" or "SIGUSR1", "RTMIN+3", or a number 1-31/34-64)`

// Parse reads a signal: a name with or without the SIG prefix, in any
// case ("TERM", "SIGTERM", "usr1"), a real-time signal ("RTMIN",
// "RTMIN+3", "RTMAX-2"), or a decimal number 1-31 or 34-64. Signals 32 and
// 33 belong to the C library's threads.
func Parse(s string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil && Valid(n) {
		return syscall.Signal(n), nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if sig := unix.SignalNum("SIG" + name); sig != 0 {
		return sig, nil
	}
	if sig, ok := realtime(name); ok {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %s %s", quoteShort(s), Syntax)
}

// realtime reads RTMIN, RTMIN+n, RTMAX and RTMAX-n (without SIG).
func realtime(name string) (syscall.Signal, bool) {
	for _, rt := range []struct {
		prefix string
		base   int
		sign   int
	}{{"RTMIN", RTMin, 1}, {"RTMAX", RTMax, -1}} {
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
		if sig := rt.base + rt.sign*n; sig >= RTMin && sig <= RTMax {
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

// Valid reports whether n is a signal a job can be sent.
func Valid(n int) bool {
	return n >= 1 && n <= 31 || n >= RTMin && n <= RTMax
}

// Name returns the conventional name of sig, like "SIGTERM" or
// "SIGRTMIN+3"; Parse reads it back.
func Name(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	switch {
	case sig == RTMax:
		return "SIGRTMAX"
	case sig == RTMin:
		return "SIGRTMIN"
	case sig > RTMin && sig < RTMax:
		return "SIGRTMIN+" + strconv.Itoa(int(sig)-RTMin)
	}
	return "signal " + strconv.Itoa(int(sig))
}

// quoteShort quotes s for a message, cut after 40 characters.
func quoteShort(s string) string {
	const limit = 40
	if utf8.RuneCountInString(s) <= limit {
		return strconv.Quote(s)
	}
	return strconv.Quote(string([]rune(s)[:limit])) + "..."
}
