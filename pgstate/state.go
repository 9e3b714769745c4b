// Package pgstate keeps taskmasterd's state directory: a journal of the
// process groups it started, so that when a taskmasterd was SIGKILLed
// (outside a container, where its jobs outlive it), the next one finds the
// groups still alive and stops them instead of starting duplicates beside
// them.
//
// The directory holds two files:
//
//	lock             flock(2)ed by the taskmasterd that uses the directory; holds its pid
//	groups.journal   one JSON line per process started and per process ended
//
// A journal line records the group, its leader's pid and start time (from
// /proc/PID/stat: a pid alone may name a later, unrelated process), the
// instance, its stop signal and stoptime, and the boot and PID namespace
// it was recorded in (entries of another are ignored: their pids mean
// nothing here). Open reads what the last run left; Reclaim stops those
// groups; Dir.Record starts this run's journal.
//
// The package imports no other taskmaster package.
package pgstate

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// File names in the state directory.
const (
	lockName    = "lock"
	journalName = "groups.journal"
)

// ErrLocked is returned by Open when another live taskmasterd uses the
// directory.
var ErrLocked = errors.New("in use by another taskmasterd")

// ErrUnsafe is returned by Open for a directory another user could write
// to: its journal says which processes to kill.
var ErrUnsafe = errors.New("not safe to use")

// Dir is an open state directory, locked for this taskmasterd until Close.
type Dir struct {
	path    string
	proc    string
	log     *slog.Logger
	id      identity
	lock    *os.File
	left    []Entry
	journal *Journal
}

// Options are what Open needs besides the path.
type Options struct {
	Proc   string       // where procfs is mounted; "" means /proc
	Logger *slog.Logger // nil discards
}

// Open opens the state directory at path, creating it (mode 0700) if
// missing, and locks it. It returns an error wrapping ErrLocked when
// another taskmasterd holds the lock (the error names its pid), ErrUnsafe
// when the directory belongs to another user or others may write to it.
func Open(path string, opts Options) (*Dir, error) {
	if opts.Proc == "" {
		opts.Proc = "/proc"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, err
	}
	if err := checkOwned(path); err != nil {
		return nil, err
	}
	id, err := readIdentity(opts.Proc)
	if err != nil {
		return nil, err
	}
	lock, err := takeLock(filepath.Join(path, lockName))
	if err != nil {
		return nil, err
	}
	d := &Dir{path: path, proc: opts.Proc, log: opts.Logger, id: id, lock: lock}
	data, err := os.ReadFile(filepath.Join(path, journalName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		_ = lock.Close()
		return nil, err
	}
	left, bad := parseJournal(data, id)
	if bad > 0 {
		d.log.Warn("state journal: lines not read (cut short by a crash, or not journal lines)",
			"journal", filepath.Join(path, journalName), "lines", bad)
	}
	d.left = left
	return d, nil
}

// checkOwned refuses a directory that is not this user's alone to write:
// whoever writes the journal chooses which processes taskmasterd stops.
func checkOwned(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafe, path)
	case ok && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("%w: %s belongs to uid %d, not to taskmasterd's uid %d", ErrUnsafe, path, st.Uid, os.Geteuid())
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%w: others may write to %s (mode %#o)", ErrUnsafe, path, fi.Mode().Perm())
	}
	return nil
}

// takeLock locks the lock file and writes this process's pid in it, for
// the message a second taskmasterd gets. The lock goes with the process:
// a SIGKILLed taskmasterd holds it no longer. The descriptor is
// close-on-exec, so no job inherits it (and with it the lock).
func takeLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			holder, _ := os.ReadFile(path)
			return nil, fmt.Errorf("%w (pid %s)", ErrLocked, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// Path returns the directory's path.
func (d *Dir) Path() string { return d.path }

// Left returns the groups the last run recorded, in this boot and PID
// namespace, and did not see end: those that may still be alive.
func (d *Dir) Left() []Entry { return d.left }

// Record starts this run's journal and returns it. The groups left by the
// last run are forgotten: call it once Reclaim has dealt with them.
func (d *Dir) Record() (*Journal, error) {
	j, err := newJournal(filepath.Join(d.path, journalName), d.id, d.proc, nil, d.log)
	if err != nil {
		return nil, fmt.Errorf("state journal: %w", err)
	}
	d.left, d.journal = nil, j
	return j, nil
}

// Close closes the journal, compacted, and releases the lock.
func (d *Dir) Close() error {
	var err error
	if d.journal != nil {
		err = d.journal.close()
	}
	return errors.Join(err, d.lock.Close())
}
