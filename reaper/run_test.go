//go:build linux && (amd64 || arm64)

package reaper

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// runReaper runs r.Run until the test ends, and checks that it returns
// then.
func runReaper(t *testing.T, r *Reaper) {
	t.Helper()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx, sigs)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of its context's end")
		}
		signal.Stop(sigs)
	})
}

func TestRunDeliversExits(t *testing.T) {
	r := New(nil)
	runReaper(t, r)
	for code := range 3 {
		pid, done := start(t, r, "/bin/sh", "-c", "exit "+string(rune('0'+code)))
		e := waitExit(t, done)
		require.Equal(t, pid, e.Pid)
		require.Equal(t, code, e.Code())
	}
	require.Zero(t, r.Orphans())
}

// Run blocks in wait4 while a child lives; its context's end must still
// end it, and give SIGCHLD back to the runtime.
func TestRunEndsWhileAChildLives(t *testing.T) {
	before := runtimeSIGCHLD()
	r := New(nil)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGCHLD)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx, sigs)
	}()
	gate, release, err := os.Pipe()
	require.NoError(t, err)
	defer release.Close()
	pid, exited, err := forkExec(r, "/bin/sh", []string{"/bin/sh", "-c", "read x <&3"},
		&syscall.ProcAttr{Files: []uintptr{0, 1, 2, gate.Fd()}})
	require.NoError(t, err)
	gate.Close()
	require.Eventually(t, func() bool { // Run has gone into its blocking wait4
		return sigchldIsDefault()
	}, 10*time.Second, time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context's end")
	}
	require.Eventually(t, func() bool {
		now := runtimeSIGCHLD()
		return now != nil && *now == *before
	}, 10*time.Second, time.Millisecond,
		"SIGCHLD's action is not the runtime's again")
	release.Close()
	var ws syscall.WaitStatus
	got, err := syscall.Wait4(pid, &ws, 0, nil) // the child is not reaped by a Run that ended
	require.NoError(t, err)
	require.Equal(t, pid, got)
	select {
	case <-exited:
		t.Fatal("an exit was delivered after Run's end")
	default:
	}
}

// Adopted grandchildren that end while Run blocks in wait4 for their
// parent are reaped too.
func TestRunReapsAdoptedGrandchildren(t *testing.T) {
	require.NoError(t, unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
	t.Cleanup(func() { _ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0) })
	r := New(nil)
	runReaper(t, r)
	gate, release, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { release.Close() })
	_, done, err := forkExec(r, "/bin/sh", []string{"/bin/sh", "-c", "for i in 1 2 3 4 5; do read x <&3 & done; exit 0"},
		&syscall.ProcAttr{Env: []string{"PATH=/usr/bin:/bin"}, Files: []uintptr{0, 1, 2, gate.Fd()}})
	require.NoError(t, err)
	gate.Close()
	require.Equal(t, 0, waitExit(t, done).Code())
	release.Close()
	require.Eventually(t, func() bool { return r.Orphans() == 5 }, 10*time.Second, 5*time.Millisecond)
}

// Many children at once, while Run switches between blocking and waiting
// for SIGCHLD: every exit reaches its starter, and nothing is left.
func TestRunDeliversEveryExitOfMany(t *testing.T) {
	r := New(nil)
	runReaper(t, r)
	const n = 200
	dones := make([]<-chan Exit, n)
	for i := range n {
		_, done := start(t, r, "/bin/true")
		dones[i] = done
	}
	for _, done := range dones {
		require.Zero(t, waitExit(t, done).Code())
	}
	require.Zero(t, r.Orphans())
	require.Equal(t, uint64(n), r.Reaped())
}

// sigchldIsDefault reports whether SIGCHLD's action is SIG_DFL now.
func sigchldIsDefault() bool {
	var a kernelSigaction
	return sigaction(nil, &a) == nil && a.handler == 0
}
