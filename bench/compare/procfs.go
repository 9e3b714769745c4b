package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The benchmark reads everything it reports about a process from the host's
// /proc: the processes measured cannot tell it anything, and reading /proc
// does not wake them.

// ctxSwitches returns the context switches of every thread of pid, voluntary
// and not, from /proc/PID/task/*/status.
func ctxSwitches(pid int) (uint64, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(tasks) == 0 {
		return 0, fmt.Errorf("no threads of pid %d", pid)
	}
	var sum uint64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that just ended
		}
		for _, key := range []string{"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"} {
			n, ok := field(b, key)
			if !ok {
				return 0, fmt.Errorf("%s: no %s", t, key)
			}
			sum += n
		}
	}
	return sum, nil
}

// threads returns how many threads pid has.
func threads(pid int) int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	return len(tasks)
}

// memory returns the resident set size and the proportional set size of
// pid, in KiB. PSS is 0 where /proc/PID/smaps_rollup is missing.
func memory(pid int) (rss, pss uint64, err error) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid)); err == nil {
		rss, ok1 := field(b, "Rss:")
		pss, ok2 := field(b, "Pss:")
		if ok1 && ok2 {
			return rss, pss, nil
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	rss, ok := field(b, "VmRSS:")
	if !ok {
		return 0, 0, fmt.Errorf("pid %d: no VmRSS", pid)
	}
	return rss, 0, nil
}

// field returns the number after key at the start of a line of b.
func field(b []byte, key string) (uint64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, key); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return 0, false
			}
			n, err := strconv.ParseUint(f[0], 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// children returns the children of pid: the union of the children files of
// its threads (a child belongs to the thread that forked it).
func children(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var kids []int
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				kids = append(kids, n)
			}
		}
	}
	return kids
}

// procStat is what the benchmark needs from /proc/PID/stat.
type procStat struct {
	state byte   // R, S, Z, ...
	start uint64 // start time in clock ticks after boot
}

// stat reads /proc/PID/stat.
func stat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	// The command name is in parentheses and may hold anything: the fields
	// that follow start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return procStat{}, fmt.Errorf("pid %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("pid %d: short stat", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, fmt.Errorf("pid %d: starttime: %w", pid, err)
	}
	return procStat{state: f[0][0], start: start}, nil
}

// comm returns the command name of pid ("" if it is gone).
func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// cmdline returns the arguments of pid joined by spaces ("" if it is gone
// or a zombie).
func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.Join(strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"), " ")
}

// countChildren counts the children of pid whose command name is name,
// remembering those in seen (a pid seen as name stays counted: an exec'd
// sleep does not change its name again).
func countChildren(pid int, name string, seen map[int]bool) int {
	for _, k := range children(pid) {
		if !seen[k] && comm(k) == name {
			seen[k] = true
		}
	}
	return len(seen)
}

// cpuTime returns the CPU time pid has used, all its threads together, from
// /proc/PID/task/*/schedstat (nanoseconds, unlike the 10 ms ticks of
// /proc/PID/stat). Threads that have ended are not counted.
func cpuTime(pid int) (time.Duration, error) {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	if len(files) == 0 {
		return 0, fmt.Errorf("no schedstat for pid %d", pid)
	}
	var sum time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		fs := strings.Fields(string(b))
		if len(fs) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", f, err)
		}
		sum += time.Duration(ns)
	}
	return sum, nil
}
