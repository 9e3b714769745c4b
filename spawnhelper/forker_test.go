package spawnhelper

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/reaper"
)

func TestMain(m *testing.M) {
	Main() // the test binary doubles as the helper, as taskmasterd does
	os.Exit(m.Run())
}

// newForker returns a Forker over a running reaper that owns this test
// process's wait4, with the given threshold.
func newForker(t testing.TB, threshold int) *Forker {
	t.Helper()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	r := reaper.New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, sigs) }()
	f := New(r, threshold, nil)
	t.Cleanup(func() {
		f.Close()
		cancel()
		<-done
		signal.Stop(sigs)
	})
	return f
}

type started struct {
	pid  int
	out  *bufio.Reader
	exit chan reaper.Exit
}

// start runs script under sh with X=hello, in a process group of its own,
// its stdout a pipe the test reads.
func start(t *testing.T, f *Forker, script string) (started, error) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { r.Close() })
	defer w.Close()
	s := started{out: bufio.NewReader(r), exit: make(chan reaper.Exit, 1)}
	attr := &syscall.ProcAttr{
		Env:   []string{"X=hello"},
		Files: []uintptr{^uintptr(0), w.Fd(), 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	}
	s.pid, err = f.ForkExec("/bin/sh", []string{"sh", "-c", script}, attr, func(e reaper.Exit) { s.exit <- e })
	return s, err
}

func (s started) line(t *testing.T) string {
	t.Helper()
	line, err := s.out.ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSuffix(line, "\n")
}

func (s started) code(t *testing.T) int {
	t.Helper()
	select {
	case e := <-s.exit:
		require.Equal(t, s.pid, e.Pid)
		return e.Code()
	case <-time.After(10 * time.Second):
		t.Fatalf("the exit of %d was never delivered", s.pid)
		return -1
	}
}

// helperPid returns the pid of the running helper, or 0.
func (f *Forker) helperPid() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil {
		return 0
	}
	return f.h.pid
}

// What a start through the helper gives the process is what a direct
// fork gives it: taskmasterd is its parent (so its exit is reaped and
// delivered), the environment and descriptors asked for, a process group
// of its own; and the descriptor 0 asked closed is closed.
func TestAStartThroughTheHelperIsOurChild(t *testing.T) {
	f := newForker(t, 0)
	s, err := start(t, f, `echo "$PPID $X $$ $(cut -d' ' -f5 /proc/$$/stat)"; `+
		`if read x; then echo stdin open; else echo stdin closed; fi; exit 7`)
	require.NoError(t, err)
	require.NotZero(t, f.helperPid(), "the start did not go through the helper")
	require.NotEqual(t, f.helperPid(), os.Getpid())
	require.Equal(t, fmt.Sprintf("%d hello %d %d", os.Getpid(), s.pid, s.pid), s.line(t))
	require.Equal(t, "stdin closed", s.line(t))
	require.Equal(t, 7, s.code(t))
}

// A start the kernel refuses fails with the errno a direct fork returns,
// and the helper serves the next one.
func TestAFailedExecIsTheStartsError(t *testing.T) {
	f := newForker(t, 0)
	_, err := f.ForkExec("/nonexistent/program", []string{"program"}, &syscall.ProcAttr{Files: []uintptr{0, 1, 2}}, func(reaper.Exit) {})
	require.ErrorIs(t, err, syscall.ENOENT)
	helper := f.helperPid()
	require.NotZero(t, helper)
	s, err := start(t, f, "echo $X")
	require.NoError(t, err)
	require.Equal(t, "hello", s.line(t))
	require.Equal(t, 0, s.code(t))
	require.Equal(t, helper, f.helperPid())
}

func TestFewDescriptorsForkDirectly(t *testing.T) {
	f := newForker(t, 1<<20)
	s, err := start(t, f, `echo $PPID`)
	require.NoError(t, err)
	require.Equal(t, fmt.Sprint(os.Getpid()), s.line(t))
	require.Equal(t, 0, s.code(t))
	require.Zero(t, f.helperPid(), "a helper was started below the threshold")
}

// A helper that was killed is replaced at the next start.
func TestAHelperThatEndedIsReplaced(t *testing.T) {
	f := newForker(t, 0)
	s, err := start(t, f, "exit 0")
	require.NoError(t, err)
	require.Equal(t, 0, s.code(t))
	first := f.helperPid()
	require.NoError(t, syscall.Kill(first, syscall.SIGKILL))
	f.mu.Lock()
	gone := f.h.gone
	f.mu.Unlock()
	<-gone // reaped

	s, err = start(t, f, "echo $X")
	require.NoError(t, err)
	require.Equal(t, "hello", s.line(t))
	require.Equal(t, 0, s.code(t))
	require.NotZero(t, f.helperPid())
	require.NotEqual(t, first, f.helperPid())
}

// A helper that does not answer (stopped) is killed, and the start forks
// directly: a stuck helper must not hold the reaper's lock.
func TestAStuckHelperIsKilledAndTheStartForksDirectly(t *testing.T) {
	f := newForker(t, 0)
	f.replyTimeout = 200 * time.Millisecond
	s, err := start(t, f, "exit 0")
	require.NoError(t, err)
	require.Equal(t, 0, s.code(t))
	stuck := f.helperPid()
	f.mu.Lock()
	gone := f.h.gone
	f.mu.Unlock()
	require.NoError(t, syscall.Kill(stuck, syscall.SIGSTOP))

	s, err = start(t, f, "echo $X")
	require.NoError(t, err)
	require.Equal(t, "hello", s.line(t))
	require.Equal(t, 0, s.code(t))
	<-gone // the stuck helper was killed and reaped
}

// Close ends the helper and returns once it has been reaped; later starts
// fork directly.
func TestCloseEndsTheHelper(t *testing.T) {
	f := newForker(t, 0)
	s, err := start(t, f, "exit 0")
	require.NoError(t, err)
	require.Equal(t, 0, s.code(t))
	f.mu.Lock()
	gone := f.h.gone
	f.mu.Unlock()
	f.Close()
	select {
	case <-gone:
	default:
		t.Fatal("Close returned before the helper was reaped")
	}
	s, err = start(t, f, "echo $X")
	require.NoError(t, err)
	require.Equal(t, "hello", s.line(t))
	require.Equal(t, 0, s.code(t))
	require.Zero(t, f.helperPid())
}
