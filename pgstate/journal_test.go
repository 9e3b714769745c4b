package pgstate

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/internal/procfs"
)

// fakeProc is a procfs tree for tests: a boot id, a PID namespace and the
// stat of the processes a test makes up.
type fakeProc struct {
	t   *testing.T
	dir string
}

const (
	testBoot = "4ac884f3-b75a-41ac-886f-622e2a4216e8"
	testNS   = "pid:[4026531836]"
)

func newFakeProc(t *testing.T) *fakeProc {
	t.Helper()
	p := &fakeProc{t: t, dir: t.TempDir()}
	require.NoError(t, os.MkdirAll(filepath.Join(p.dir, "sys", "kernel", "random"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(p.dir, "sys", "kernel", "random", "boot_id"), []byte(testBoot+"\n"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(p.dir, "self", "ns"), 0o755))
	require.NoError(t, os.Symlink(testNS, filepath.Join(p.dir, "self", "ns", "pid")))
	return p
}

// process makes up process pid, leader of its group, started at start.
func (p *fakeProc) process(pid int, start uint64) {
	p.t.Helper()
	dir := filepath.Join(p.dir, strconv.Itoa(pid))
	require.NoError(p.t, os.MkdirAll(dir, 0o755))
	// A name with spaces and a parenthesis, as a real one may have.
	stat := fmt.Sprintf("%d (a (b) c) S 1 %d %d 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 %d 1000 100\n", pid, pid, pid, start)
	require.NoError(p.t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
}

var here = identity{boot: testBoot, pidNS: testNS}

func entry(pid int, start uint64, instance string) Entry {
	return Entry{Boot: testBoot, PidNS: testNS, Pgid: pid, Pid: pid, Start: start, Instance: instance,
		StopSignal: syscall.SIGTERM, StopTime: 5 * time.Second}
}

func TestReadStat(t *testing.T) {
	p := newFakeProc(t)
	p.process(42, 123456)
	st, err := procfs.ReadStat(p.dir, 42)
	require.NoError(t, err)
	require.Equal(t, uint64(123456), st.Start)
	require.Equal(t, 42, st.Pgid)
	_, err = procfs.ReadStat(p.dir, 43)
	require.ErrorIs(t, err, procfs.ErrNoProcess)

	self, err := procfs.ReadStat("/proc", os.Getpid())
	require.NoError(t, err)
	require.Equal(t, syscall.Getpgrp(), self.Pgid)
	require.NotZero(t, self.Start)
}

func TestParseJournal(t *testing.T) {
	a, b, c := entry(10, 100, "web:0"), entry(11, 110, "web:1"), entry(12, 120, "db:0")
	other := entry(13, 130, "old:0")
	other.Boot = "another-boot"
	otherNS := entry(14, 140, "ns:0")
	otherNS.PidNS = "pid:[1]"
	reused := entry(10, 999, "web:0") // same pid, later process: its end is not a's
	journal := string(startLine(&a)) + string(startLine(&b)) + string(startLine(&other)) +
		string(startLine(&otherNS)) + string(endLine(b.key())) + string(endLine(reused.key())) +
		"not json\n" + `{"op":"pause","pid":1,"start":1}` + "\n" + string(startLine(&c))
	torn := journal + string(startLine(&reused))[:40]

	live, bad := parseJournal([]byte(journal), here)
	require.Equal(t, []Entry{a, c}, live)
	require.Equal(t, 2, bad)

	live, bad = parseJournal([]byte(torn), here)
	require.Equal(t, []Entry{a, c}, live, "a torn last line is ignored")
	require.Equal(t, 3, bad)

	live, bad = parseJournal(nil, here)
	require.Empty(t, live)
	require.Zero(t, bad)
}

func TestJournalRecordsStartsAndEnds(t *testing.T) {
	p := newFakeProc(t)
	p.process(500, 5000)
	p.process(501, 5010)
	path := filepath.Join(t.TempDir(), journalName)
	j, err := newJournal(path, here, p.dir, nil, nil)
	require.NoError(t, err)
	j.Started("web:0", 500, syscall.SIGQUIT, 1500*time.Millisecond)
	j.Started("web:1", 501, syscall.SIGTERM, time.Second)
	j.Started("gone:0", 502, syscall.SIGTERM, time.Second) // exited before Started looked: not recorded
	j.Ended(501)
	j.Ended(502)

	data, err := os.ReadFile(path)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Equal(t, []string{
		`{"op":"start","boot":"` + testBoot + `","pidns":"` + testNS + `","pgid":500,"pid":500,"start":5000,"instance":"web:0","stopsignal":3,"stoptime_ms":1500}`,
		`{"op":"start","boot":"` + testBoot + `","pidns":"` + testNS + `","pgid":501,"pid":501,"start":5010,"instance":"web:1","stopsignal":15,"stoptime_ms":1000}`,
		`{"op":"end","pid":501,"start":5010}`,
	}, lines)
	live, bad := parseJournal(data, here)
	require.Zero(t, bad)
	want := Entry{Boot: testBoot, PidNS: testNS, Pgid: 500, Pid: 500, Start: 5000, Instance: "web:0",
		StopSignal: syscall.SIGQUIT, StopTime: 1500 * time.Millisecond}
	require.Equal(t, []Entry{want}, live)
	require.Equal(t, []Entry{want}, j.Live())
}

// A restart loop appends two lines per process: the journal is rewritten
// with only the live entries before it grows far beyond them, atomically.
func TestJournalCompacts(t *testing.T) {
	p := newFakeProc(t)
	p.process(7, 70) // lives throughout
	path := filepath.Join(t.TempDir(), journalName)
	j, err := newJournal(path, here, p.dir, nil, nil)
	require.NoError(t, err)
	j.Started("keep:0", 7, syscall.SIGTERM, time.Second)
	p.process(8, 80) // one process started again and again
	maxLines := 0
	for i := range 2*compactSlack + 64 {
		j.Started("loop:0", 8, syscall.SIGTERM, time.Second)
		j.Ended(8)
		if i%16 == 0 {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			maxLines = max(maxLines, strings.Count(string(data), "\n"))
		}
	}
	require.Greater(t, maxLines, compactSlack/2, "the loop never got near compacting")
	require.LessOrEqual(t, maxLines, compactSlack+2, "the journal grew past its bound")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	live, bad := parseJournal(data, here)
	require.Zero(t, bad)
	require.Equal(t, []Entry{{Boot: testBoot, PidNS: testNS, Pgid: 7, Pid: 7, Start: 70, Instance: "keep:0",
		StopSignal: syscall.SIGTERM, StopTime: time.Second}}, live)
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")
}

func TestOpenReadsWhatTheLastRunLeft(t *testing.T) {
	p := newFakeProc(t)
	p.process(300, 3000)
	p.process(301, 3010)
	dir := filepath.Join(t.TempDir(), "state") // created by Open
	d, err := Open(dir, Options{Proc: p.dir})
	require.NoError(t, err)
	require.Empty(t, d.Left())
	j, err := d.Record()
	require.NoError(t, err)
	j.Started("web:0", 300, syscall.SIGTERM, time.Second)
	j.Started("web:1", 301, syscall.SIGTERM, time.Second)
	j.Ended(301)
	// A SIGKILLed taskmasterd closes nothing: its lock goes with its
	// descriptors, as here.
	require.NoError(t, d.lock.Close())

	fi, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())
	d2, err := Open(dir, Options{Proc: p.dir})
	require.NoError(t, err)
	require.Equal(t, []Entry{{Boot: testBoot, PidNS: testNS, Pgid: 300, Pid: 300, Start: 3000, Instance: "web:0",
		StopSignal: syscall.SIGTERM, StopTime: time.Second}}, d2.Left())
	_, err = d2.Record()
	require.NoError(t, err)
	require.NoError(t, d2.Close())
	data, err := os.ReadFile(filepath.Join(dir, journalName))
	require.NoError(t, err)
	require.Empty(t, string(data), "a new run starts a new journal")
}

func TestOpenIgnoresAnotherBootOrNamespace(t *testing.T) {
	dir := t.TempDir()
	old := entry(300, 3000, "web:0")
	old.Boot = "the-boot-before"
	ns := entry(301, 3010, "web:1")
	ns.PidNS = "pid:[4026532000]"
	require.NoError(t, os.WriteFile(filepath.Join(dir, journalName), append(startLine(&old), startLine(&ns)...), 0o600))
	d, err := Open(dir, Options{Proc: newFakeProc(t).dir})
	require.NoError(t, err)
	defer d.Close()
	require.Empty(t, d.Left())
}

func TestOpenRefusesASecondTaskmasterd(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir, Options{})
	require.NoError(t, err)
	_, err = Open(dir, Options{}) // flock locks are per open file: a second open conflicts
	require.ErrorIs(t, err, ErrLocked)
	require.ErrorContains(t, err, fmt.Sprintf("in use by another taskmasterd (pid %d)", os.Getpid()))
	require.NoError(t, d.Close())
	d, err = Open(dir, Options{})
	require.NoError(t, err, "the lock is free once the first one is closed")
	require.NoError(t, d.Close())
}

func TestOpenRefusesADirectoryOthersMayWrite(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o777))
	_, err := Open(dir, Options{})
	require.ErrorIs(t, err, ErrUnsafe)
	require.ErrorContains(t, err, "others may write to "+dir+" (mode 0777)")

	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o600))
	_, err = Open(file, Options{})
	require.Error(t, err)
}
