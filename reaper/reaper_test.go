package reaper

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// reapOnSIGCHLD runs r.Reap on every SIGCHLD, as taskmasterd does, until the
// test ends.
func reapOnSIGCHLD(t *testing.T, r *Reaper) {
	t.Helper()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-sigs:
				r.Reap()
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() {
		signal.Stop(sigs)
		close(stop)
		<-done
	})
	r.Reap() // children may have exited before Notify was in place
}

func start(t *testing.T, r *Reaper, argv ...string) (int, <-chan Exit) {
	t.Helper()
	pid, done, err := forkExec(r, argv[0], argv, &syscall.ProcAttr{
		Env:   []string{"PATH=/usr/bin:/bin"},
		Files: []uintptr{0, 1, 2},
	})
	require.NoError(t, err)
	return pid, done
}

// forkExec is r.ForkExec with the exit delivered to a channel. It counts
// the deliveries, so that a second one fails the test (the channel has room
// for one).
func forkExec(r *Reaper, argv0 string, argv []string, attr *syscall.ProcAttr) (int, <-chan Exit, error) {
	done := make(chan Exit, 1)
	pid, err := r.ForkExec(argv0, argv, attr, func(e Exit) {
		select {
		case done <- e:
		default:
			panic("reaper: exit delivered twice")
		}
	})
	return pid, done, err
}

func waitExit(t *testing.T, done <-chan Exit) Exit {
	t.Helper()
	select {
	case e := <-done:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no exit delivered within 10s")
		return Exit{}
	}
}

func TestExitCodeIsDelivered(t *testing.T) {
	r := New(nil)
	reapOnSIGCHLD(t, r)
	pid, done := start(t, r, "/bin/sh", "-c", "exit 7")
	e := waitExit(t, done)
	require.Equal(t, pid, e.Pid)
	require.True(t, e.Status.Exited())
	require.Equal(t, 7, e.Code())
	require.Zero(t, r.Orphans())
}

func TestKilledBySignalIs128PlusN(t *testing.T) {
	r := New(nil)
	reapOnSIGCHLD(t, r)
	_, done := start(t, r, "/bin/sh", "-c", "kill -USR1 $$")
	e := waitExit(t, done)
	require.True(t, e.Status.Signaled())
	require.Equal(t, syscall.SIGUSR1, e.Status.Signal())
	require.Equal(t, 128+int(syscall.SIGUSR1), e.Code())
}

// An exit that is reaped before ForkExec has recorded the pid must still
// reach the process's starter, not be counted as an orphan.
func TestExitReapedBeforePidIsRecorded(t *testing.T) {
	r := New(nil)
	reaped := make(chan int, 1)
	r.afterWait = func(pid int) { reaped <- pid }
	r.afterFork = func(pid int) {
		// Wait, without reaping, until the child is a zombie.
		var info unix.Siginfo
		require.NoError(t, unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil))
		go r.Reap()
		// Reap has now taken the status out of the kernel and is about to
		// look the pid up, while ForkExec still holds the lock.
		require.Equal(t, pid, <-reaped)
	}
	pid, done := start(t, r, "/bin/true")
	e := waitExit(t, done)
	require.Equal(t, pid, e.Pid)
	require.Equal(t, 0, e.Code())
	require.Zero(t, r.Orphans(), "an early exit was taken for an orphan")
}

func TestChildrenStartedElsewhereAreReapedAsOrphans(t *testing.T) {
	r := New(nil)
	pid, err := syscall.ForkExec("/bin/true", []string{"/bin/true"}, &syscall.ProcAttr{})
	require.NoError(t, err)
	var info unix.Siginfo
	require.NoError(t, unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil))
	require.Equal(t, 1, r.Reap())
	require.Equal(t, uint64(1), r.Orphans())
	require.Equal(t, 0, r.Reap(), "nothing is left to reap")
}

// Adopted grandchildren (taskmasterd is a subreaper or PID 1) are reaped
// too, once their parent has gone.
func TestAdoptedGrandchildrenAreReaped(t *testing.T) {
	require.NoError(t, unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	r := New(nil)
	reapOnSIGCHLD(t, r)
	// The grandchildren block reading a pipe (fd 3) until the test closes
	// its write end, which it does once the shell is gone: none can end
	// while the shell lives, which would reap it itself.
	gate, release, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { release.Close() })
	_, done, err := forkExec(r, "/bin/sh", []string{"/bin/sh", "-c", "for i in 1 2 3 4 5; do read x <&3 & done; exit 0"},
		&syscall.ProcAttr{Env: []string{"PATH=/usr/bin:/bin"}, Files: []uintptr{0, 1, 2, gate.Fd()}})
	require.NoError(t, err)
	gate.Close()
	require.Equal(t, 0, waitExit(t, done).Code())
	require.Zero(t, r.Orphans(), "a grandchild ended before its release")
	release.Close()
	require.Eventually(t, func() bool { return r.Orphans() == 5 }, 10*time.Second, 5*time.Millisecond)
	var ws syscall.WaitStatus
	_, err = syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
	require.ErrorIs(t, err, syscall.ECHILD, "a child was left unreaped")
}

// Many children started from many goroutines while SIGCHLDs coalesce: every
// exit reaches its starter and nothing is left behind.
func TestConcurrentStartsAllDelivered(t *testing.T) {
	r := New(nil)
	reapOnSIGCHLD(t, r)
	const n = 300
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, done, err := forkExec(r, "/bin/true", []string{"true"}, &syscall.ProcAttr{})
			if err != nil {
				codes[i] = -1
				return
			}
			select {
			case e := <-done:
				codes[i] = e.Code()
			case <-time.After(20 * time.Second):
				codes[i] = -2
			}
		}()
	}
	wg.Wait()
	for i, c := range codes {
		require.Zero(t, c, "child %d", i)
	}
	require.Zero(t, r.Orphans())
	var ws syscall.WaitStatus
	_, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
	require.ErrorIs(t, err, syscall.ECHILD)
}

func TestSubscribersHearOfReaps(t *testing.T) {
	r := New(nil)
	events, cancel := r.Subscribe()
	defer cancel()
	_, done := start(t, r, "/bin/true")
	reapOnSIGCHLD(t, r)
	waitExit(t, done)
	select {
	case <-events:
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber was not told of the reap")
	}
}

func TestForkExecErrorLeavesNothingRegistered(t *testing.T) {
	r := New(nil)
	_, err := r.ForkExec("/nonexistent/prog", []string{"prog"}, &syscall.ProcAttr{}, func(Exit) {
		t.Error("onExit called for a process that never started")
	})
	require.ErrorIs(t, err, syscall.ENOENT)
	r.mu.Lock()
	defer r.mu.Unlock()
	require.Empty(t, r.waiters)
}

// onExit runs on the goroutine that reaps, so a test that reaps by hand sees
// the exit delivered by the time Reap returns.
func TestOnExitRunsInReap(t *testing.T) {
	r := New(nil)
	var got []Exit
	pid, err := r.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{}, func(e Exit) { got = append(got, e) })
	require.NoError(t, err)
	var info unix.Siginfo
	require.NoError(t, unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil))
	require.Equal(t, 1, r.Reap())
	require.Equal(t, []Exit{{Pid: pid, Status: 0}}, got)
	require.Zero(t, r.Reap())
	require.Len(t, got, 1, "delivered once")
}
