package pgstate

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/taskmaster/taskmaster/internal/procfs"
)

// Compaction: the journal is rewritten with only its live entries once it
// holds compactSlack lines more than twice as many as there are live
// entries. A restart loop appends two lines per process and leaves one
// live entry: it is compacted every compactSlack/2 restarts or so, each
// time writing a few lines.
const compactSlack = 2048

// Journal records the process groups of one taskmasterd run: one line,
// one write(2), per start and per end, appended to the journal file. It
// never calls fsync: the record only matters while the kernel keeps the
// processes alive, and the page cache outlives a SIGKILLed taskmasterd
// just as well (a crash of the machine takes the processes with it, and
// entries of another boot are ignored). It implements jobs.Recorder; its
// methods are safe for concurrent use.
type Journal struct {
	path string
	id   identity
	proc string
	log  *slog.Logger

	mu      sync.Mutex
	f       *os.File      // the journal, open for appending; nil once closed or broken
	live    map[int]Entry // started and not ended, by pid (one live process per pid)
	written int           // lines in the file
}

// newJournal starts a journal at path that holds live (the groups still
// recorded from before): the file is replaced by one that holds exactly
// them.
func newJournal(path string, id identity, proc string, live []Entry, log *slog.Logger) (*Journal, error) {
	j := &Journal{path: path, id: id, proc: proc, log: log, live: make(map[int]Entry, len(live))}
	for _, e := range live {
		j.live[e.Pid] = e
	}
	if err := j.rewrite(); err != nil {
		return nil, err
	}
	return j, nil
}

// Started records that instance started pid, the leader of its own
// process group, to be stopped with stopSignal and, after stopTime,
// SIGKILL. A process that is already gone (its exit came first) is not
// recorded.
func (j *Journal) Started(instance string, pid int, stopSignal syscall.Signal, stopTime time.Duration) {
	// Read before the lock: /proc is the slow part. The caller has not yet
	// handled the process's exit, so the pid is still this process (or its
	// zombie, whose start time is the same) unless it was reaped and the
	// pid reused in between, which Ended then corrects at once.
	st, err := procfs.ReadStat(j.proc, pid)
	if err != nil {
		return
	}
	e := Entry{
		Boot: j.id.boot, PidNS: j.id.pidNS, Pgid: pid, Pid: pid, Start: st.Start,
		Instance: instance, StopSignal: stopSignal, StopTime: stopTime,
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return
	}
	j.live[pid] = e
	j.append(startLine(&e))
}

// Ended records that process pid ended and was reaped.
func (j *Journal) Ended(pid int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return
	}
	e, ok := j.live[pid]
	if !ok {
		return // not recorded: it was gone before Started looked
	}
	delete(j.live, pid)
	j.append(endLine(e.key()))
	if j.f != nil && j.written >= 2*len(j.live)+compactSlack {
		if err := j.rewrite(); err != nil {
			j.fail("compact", err)
		}
	}
}

// append writes one line with one write(2) on a file opened O_APPEND.
func (j *Journal) append(b []byte) {
	if _, err := j.f.Write(b); err != nil {
		j.fail("write", err)
		return
	}
	j.written++
}

// rewrite replaces the journal with one that holds the live entries: a new
// file is written and renamed over the old one, so that a reader sees the
// old journal or the new one, never a part of either.
func (j *Journal) rewrite() error {
	tmp := filepath.Join(filepath.Dir(j.path), "."+filepath.Base(j.path)+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	entries := make([]Entry, 0, len(j.live))
	for _, e := range j.live {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b Entry) int { return a.Pid - b.Pid })
	var buf []byte
	for i := range entries {
		buf = append(buf, startLine(&entries[i])...)
	}
	if _, err := f.Write(buf); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, j.path); err != nil {
		_ = f.Close()
		_ = os.Remove(tmp)
		return err
	}
	if j.f != nil {
		_ = j.f.Close()
	}
	j.f, j.written = f, len(entries)
	return nil
}

// fail stops the recording after an error: a line written in part would
// run into the next one. Processes started from now on are not recorded.
func (j *Journal) fail(what string, err error) {
	j.log.Warn("state journal: cannot "+what+"; processes started from now on are not recorded",
		"journal", j.path, "err", err)
	if j.f != nil {
		_ = j.f.Close()
		j.f = nil
	}
}

// close compacts the journal (after a graceful shutdown nothing is left
// in it) and closes it.
func (j *Journal) close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.rewrite()
	err = errors.Join(err, j.f.Close())
	j.f = nil
	if err != nil {
		return fmt.Errorf("state journal %s: %w", j.path, err)
	}
	return nil
}

// Live returns the entries recorded as started and not ended, by pid.
func (j *Journal) Live() []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]Entry, 0, len(j.live))
	for _, e := range j.live {
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b Entry) int { return a.Pid - b.Pid })
	return out
}
