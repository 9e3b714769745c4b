package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Running ten thousand processes meets limits a machine sets lower by
// default: the descriptors a process may open (taskmasterd holds a few per
// instance), the pids of the machine (kernel.pid_max, 32768 by default),
// its threads, and the processes a user may run. raiseLimits raises those
// that are too low for n processes for the duration of the scale section,
// and its restore function puts them back.

// rlimitNPROC is RLIMIT_NPROC, which package syscall does not name.
const rlimitNPROC = 6

// raiseLimits raises what n processes need and returns how to restore it,
// what it raised or could not raise, for the report, and the descriptors
// taskmasterd may open, which bound the instances it can run.
func raiseLimits(n int) (restore func(), raised []string, nofile uint64, err error) {
	var undo []func()
	restore = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	// Descriptors: the benchmark's limit is inherited by taskmasterd,
	// whose Go runtime raises its soft limit to this hard one. Raising the
	// hard limit needs CAP_SYS_RESOURCE, which a container may lack.
	nofile, r := rlimitAtLeast(syscall.RLIMIT_NOFILE, uint64(4*n+4096), &undo)
	if r != "" {
		raised = append(raised, "open files "+r)
	}
	// Processes of one user: root's count every process of the machine,
	// though root is not bound by it with CAP_SYS_ADMIN.
	if _, r := rlimitAtLeast(rlimitNPROC, uint64(2*n+4096), &undo); r != "" {
		raised = append(raised, "processes "+r)
	}
	// A process in a nested PID namespace holds a pid in each namespace
	// above it: the machine's pid_max bounds them all, with whatever else
	// runs there.
	for _, s := range []struct {
		path       string
		need, want int // raised to want when under need
	}{
		{"/proc/sys/kernel/pid_max", 2*n + 16384, max(4*n, 131072)},
		{"/proc/sys/kernel/threads-max", 2*n + 16384, 4*n + 65536},
	} {
		if r, err := sysctlAtLeast(s.path, s.need, s.want, &undo); err != nil {
			restore()
			return nil, nil, 0, err
		} else if r != "" {
			raised = append(raised, r)
		}
	}
	return restore, raised, nofile, nil
}

// rlimitAtLeast raises resource to at least want (soft and hard) and adds
// its restoration to undo. Where the hard limit cannot be raised, the soft
// one goes up to it. It returns the soft limit now in force and what
// changed ("from → to"), or "" when the limit was high enough.
// syscall.Setrlimit, unlike a raw system call, also makes the processes
// the benchmark starts inherit the new limit.
func rlimitAtLeast(resource int, want uint64, undo *[]func()) (uint64, string) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(resource, &old); err != nil {
		return 0, fmt.Sprintf("unknown (%v)", err)
	}
	if old.Cur >= want && old.Max >= want {
		return old.Cur, ""
	}
	lim := syscall.Rlimit{Cur: max(old.Cur, want), Max: max(old.Max, want)}
	note := ""
	if err := syscall.Setrlimit(resource, &lim); err != nil {
		note = fmt.Sprintf(" (not %d: its hard limit cannot be raised here: %v)", want, err)
		lim = syscall.Rlimit{Cur: old.Max, Max: old.Max}
		if err := syscall.Setrlimit(resource, &lim); err != nil {
			return old.Cur, fmt.Sprintf("%d, not raised: %v", old.Cur, err)
		}
	}
	*undo = append(*undo, func() { _ = syscall.Setrlimit(resource, &old) })
	if lim.Cur == old.Cur {
		return lim.Cur, fmt.Sprintf("%d%s", old.Cur, note)
	}
	return lim.Cur, fmt.Sprintf("%d → %d%s", old.Cur, lim.Cur, note)
}

// sysctlAtLeast raises the number in the /proc/sys file path to want when
// it is under need, and adds its restoration to undo. It returns "name
// from → to", or "" when it was high enough.
func sysctlAtLeast(path string, need, want int, undo *[]func()) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	old, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if old >= need {
		return "", nil
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(want)), 0o644); err != nil {
		return "", fmt.Errorf("raise %s to %d: %w", path, want, err)
	}
	*undo = append(*undo, func() { _ = os.WriteFile(path, []byte(strconv.Itoa(old)), 0o644) })
	name := strings.ReplaceAll(strings.TrimPrefix(path, "/proc/sys/"), "/", ".")
	return fmt.Sprintf("%s %d → %d", name, old, want), nil
}
