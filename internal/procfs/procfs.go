// Package procfs reads what taskmasterd needs of processes from a /proc
// tree: one parser of /proc/PID/stat for the shutdown's sweep of leftover
// descendants and for the state directory's check of a recorded process.
package procfs

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// Stat is what taskmaster reads of one process in /proc/PID/stat.
type Stat struct {
	State byte   // R, S, D, T, Z, ...
	Ppid  int    // its parent
	Pgid  int    // its process group
	Start uint64 // when it started, in clock ticks after boot: with the pid, names the process for good
}

// Zombie reports whether the process has ended and waits to be reaped.
func (s Stat) Zombie() bool { return s.State == 'Z' }

// ErrNoProcess is returned for a pid that has no process.
var ErrNoProcess = errors.New("no such process")

// ReadStat reads /proc/PID/stat under proc ("/proc", or a test's tree).
func ReadStat(proc string, pid int) (Stat, error) {
	data, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "stat"))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) { // ESRCH: it ended between open and read
		return Stat{}, ErrNoProcess
	}
	if err != nil {
		return Stat{}, err
	}
	st, err := ParseStat(data)
	if err != nil {
		return Stat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// ParseStat reads the contents of a /proc/PID/stat file. The command name,
// in parentheses, may hold spaces and parentheses: fields are counted
// from the last ')'.
func ParseStat(data []byte) (Stat, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return Stat{}, errors.New("no command name")
	}
	// After the name: state (field 3), ppid (4), pgrp (5), ..., starttime (22).
	f := bytes.Fields(data[end+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return Stat{}, fmt.Errorf("%d fields after the name, want at least 20", len(f))
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgid, err2 := strconv.Atoi(string(f[2]))
	start, err3 := strconv.ParseUint(string(f[19]), 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Stat{}, err
	}
	return Stat{State: f[0][0], Ppid: ppid, Pgid: pgid, Start: start}, nil
}

// All reads the stat of every process under proc, by pid; processes that
// end meanwhile, or whose stat cannot be read, are left out.
func All(proc string) map[int]Stat {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	out := make(map[int]Stat, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, err := ReadStat(proc, pid); err == nil {
			out[pid] = st
		}
	}
	return out
}
