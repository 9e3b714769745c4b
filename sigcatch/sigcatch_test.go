package sigcatch

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// notified returns a channel that Notify feeds.
func notified(t *testing.T) chan os.Signal {
	t.Helper()
	c := make(chan os.Signal, 16)
	require.NoError(t, Notify(c))
	return c
}

func receive(t *testing.T, c chan os.Signal) os.Signal {
	t.Helper()
	select {
	case s := <-c:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no signal came")
		return nil
	}
}

// A signal that would kill any other Go program arrives on the channel,
// and the test process is still here to see it.
func TestCaughtSignalsArriveOnTheChannel(t *testing.T) {
	c := notified(t)
	for _, sig := range Signals {
		require.NoError(t, syscall.Kill(os.Getpid(), sig))
		require.Equal(t, sig, receive(t, c))
	}
}

// A flood of signals while the runtime is busy (goroutines allocating, the
// collector running, threads being made) neither crashes the process nor
// loses the fact that signals came.
func TestFloodWhileTheRuntimeIsBusy(t *testing.T) {
	c := notified(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					_ = make([]byte, 64<<10)
					runtime.Gosched()
				}
			}
		})
	}
	for i := range 5000 {
		require.NoError(t, syscall.Kill(os.Getpid(), Signals[i%len(Signals)]))
	}
	close(stop)
	wg.Wait()
	seen := map[os.Signal]bool{}
	for len(seen) < len(Signals) {
		seen[receive(t, c)] = true
	}
}

// A child starts with the signals at their default action, neither caught
// nor ignored: exec resets a handled signal, where SIG_IGN would be
// inherited.
func TestChildrenStartWithTheDefaultAction(t *testing.T) {
	notified(t)
	handled := []syscall.Signal{syscall.SIGTERM, syscall.SIGTSTP, syscall.SIGUSR1, 40}
	require.NoError(t, Handle(make(chan os.Signal, 1), handled...))
	out, err := exec.Command("/bin/cat", "/proc/self/status").Output()
	require.NoError(t, err)
	masks := map[string]uint64{}
	for _, line := range strings.Split(string(out), "\n") {
		name, value, ok := strings.Cut(line, ":\t")
		if ok && (name == "SigIgn" || name == "SigCgt") {
			m, err := strconv.ParseUint(value, 16, 64)
			require.NoError(t, err)
			masks[name] = m
		}
	}
	require.Len(t, masks, 2)
	for _, sig := range append(handled, Signals...) {
		bit := uint64(1) << (sig - 1)
		require.Zero(t, masks["SigIgn"]&bit, "signal %d is ignored in the child", sig)
		require.Zero(t, masks["SigCgt"]&bit, "signal %d is caught in the child", sig)
	}
}

// In this process, the signals are caught, not ignored.
func TestTheSignalsAreCaughtHere(t *testing.T) {
	notified(t)
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:\t"); ok {
			m, err := strconv.ParseUint(v, 16, 64)
			require.NoError(t, err)
			for _, sig := range Signals {
				require.NotZero(t, m&(1<<(sig-1)), "signal %d is not caught", sig)
			}
			return
		}
	}
	t.Fatal("no SigCgt in /proc/self/status")
}

// Catchable leaves out what cannot be caught, what the runtime keeps,
// what has its own channel and what Notify catches, and has every other
// signal up to 64.
func TestCatchableIsEveryOtherSignal(t *testing.T) {
	got := map[syscall.Signal]bool{}
	for _, s := range Catchable() {
		got[s.(syscall.Signal)] = true
	}
	for n := syscall.Signal(1); n <= 64; n++ {
		switch n {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGPROF, syscall.SIGCHLD, 32, 33, 34:
			require.False(t, got[n], "signal %d", int(n))
		case syscall.SIGURG:
			require.Equal(t, PreemptionOff(), got[n], "SIGURG only without async preemption")
		default:
			require.True(t, got[n], "signal %d", int(n))
		}
	}
}

// Handle takes a signal from the runtime: it arrives on the channel that
// asked for it, and only there.
func TestHandleDeliversToTheChannelThatAskedOnly(t *testing.T) {
	usr1 := make(chan os.Signal, 4)
	usr2 := make(chan os.Signal, 4)
	require.NoError(t, Handle(usr1, syscall.SIGUSR1))
	require.NoError(t, Handle(usr2, syscall.SIGUSR2))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR2))
	require.Equal(t, syscall.SIGUSR2, receive(t, usr2))
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
	require.Equal(t, syscall.SIGUSR1, receive(t, usr1))
	// Each channel has had exactly its own: the relay passes a signal to
	// every channel under mu, so once it is free, any other is queued.
	mu.Lock()
	mu.Unlock()
	require.Empty(t, usr1)
	require.Empty(t, usr2)
}

// The signals the runtime must see itself stay its own: a fault that a
// returning handler would only repeat, its own crash's SIGABRT, SIGPIPE,
// preemption, profiling; and SIGCHLD, which the reaper switches.
func TestHandleRefusesTheRuntimesSignals(t *testing.T) {
	c := make(chan os.Signal, 1)
	for _, sig := range []syscall.Signal{syscall.SIGSEGV, syscall.SIGBUS, syscall.SIGFPE, syscall.SIGILL,
		syscall.SIGTRAP, syscall.SIGSYS, syscall.SIGABRT, syscall.SIGPIPE, syscall.SIGCHLD, syscall.SIGPROF,
		syscall.SIGKILL, syscall.SIGSTOP, 33} {
		err := Handle(c, sig)
		require.ErrorContains(t, err, "signal "+strconv.Itoa(int(sig))+" is the Go runtime's", "signal %d", int(sig))
	}
	require.Equal(t, PreemptionOff(), Handleable(syscall.SIGURG))
}

// The handler writes only in the process that installed it: in a child
// forked by the runtime, before its exec, a signal is the child's, and
// the handler gives it its default action. The test stands in for the
// child by making the handler think it runs elsewhere, and sends to its
// own thread, where delivery is synchronous: SIGWINCH, whose default
// action is to be ignored, ends up at SIG_DFL and is not passed on.
func TestTheHandlerGivesAnotherProcessTheDefaultAction(t *testing.T) {
	c := make(chan os.Signal, 4)
	require.NoError(t, Handle(c, syscall.SIGHUP, syscall.SIGWINCH))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, tid := os.Getpid(), syscall.Gettid()
	own := ownPID
	ownPID = own + 1
	require.NoError(t, syscall.Tgkill(pid, tid, syscall.SIGWINCH))
	ownPID = own
	action, err := actionOf(syscall.SIGWINCH)
	require.NoError(t, err)
	require.Zero(t, action, "SIGWINCH is not back at SIG_DFL")
	require.NoError(t, setHandler(syscall.SIGWINCH))
	require.NoError(t, syscall.Tgkill(pid, tid, syscall.SIGHUP))
	require.Equal(t, syscall.SIGHUP, receive(t, c), "the SIGWINCH sent while the handler was not in its process came through")
}

// receiveUntil receives from c until want comes: the channel may hold
// other signals first (the realtime ones another test queued by the
// thousand).
func receiveUntil(t *testing.T, c chan os.Signal, want syscall.Signal) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-c:
			if s == want {
				return
			}
		case <-deadline:
			t.Fatalf("signal %d did not come", int(want))
		}
	}
}

// CatchAll hands the runtime only what it must see, and takes the rest
// with its own handler, where each costs one system call: the kernel says
// whose handler each signal has.
func TestCatchAllUsesItsOwnHandlerWherePossible(t *testing.T) {
	caught, err := CatchAll()
	require.NoError(t, err)
	for _, sig := range append(sigsOf(Catchable()), Signals...) {
		action, err := actionOf(sig)
		require.NoError(t, err)
		if Handleable(sig) {
			require.Equal(t, handlerPC(), action, "signal %d has not sigcatch's handler", int(sig))
		} else {
			require.NotEqual(t, handlerPC(), action, "signal %d has sigcatch's handler", int(sig))
		}
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGPIPE, syscall.SIGABRT, 34} {
		require.NoError(t, syscall.Kill(os.Getpid(), sig))
		receiveUntil(t, caught.Other, sig)
	}
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGCHLD))
	receiveUntil(t, caught.Child, syscall.SIGCHLD)
}

func sigsOf(l []os.Signal) []syscall.Signal {
	out := make([]syscall.Signal, len(l))
	for i, s := range l {
		out[i] = s.(syscall.Signal)
	}
	return out
}

// A signal the process started with blocked (a parent's mask is
// inherited across exec) is unblocked by Handle, as signal.Notify would:
// else it would stay pending for ever. The test runs itself again with
// SIGUSR1 blocked, through perl (Debian's perl-base, which every Debian
// system has): a Go program cannot start a child with a mask of its own.
func TestHandleUnblocksWhatTheProcessStartedWith(t *testing.T) {
	if os.Getenv("SIGCATCH_TEST_BLOCKED") == "1" {
		require.NotZero(t, sigBlk(t)&bit(syscall.SIGUSR1), "the child did not start with SIGUSR1 blocked")
		c := make(chan os.Signal, 1)
		require.NoError(t, Handle(c, syscall.SIGUSR1))
		require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGUSR1))
		require.Equal(t, syscall.SIGUSR1, receive(t, c))
		return
	}
	perl, err := exec.LookPath("perl")
	require.NoError(t, err, "the test needs perl (Debian's perl-base) to start a child with a signal blocked")
	script := `use POSIX; sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGUSR1)) or die "sigprocmask: $!"; exec {$ARGV[0]} @ARGV or die "exec: $!"`
	cmd := exec.Command(perl, "-e", script, os.Args[0], "-test.run=^TestHandleUnblocksWhatTheProcessStartedWith$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SIGCATCH_TEST_BLOCKED=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "PASS")
}

// sigBlk returns the calling process's main thread's blocked signals.
func sigBlk(t *testing.T) uint64 {
	t.Helper()
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "SigBlk:\t"); ok {
			m, err := strconv.ParseUint(v, 16, 64)
			require.NoError(t, err)
			return m
		}
	}
	t.Fatal("no SigBlk in /proc/self/status")
	return 0
}

// PreemptionOff reads GODEBUG as the runtime does: the last setting wins,
// a key is matched whole, a value that is not a number is ignored.
func TestPreemptionOffReadsGODEBUGAsTheRuntime(t *testing.T) {
	linked := linkedGODEBUG
	defer func() { linkedGODEBUG = linked }()
	for _, tt := range []struct {
		linked, env string
		want        bool
	}{
		{"", "", false},
		{"asyncpreemptoff=1", "", true},
		{"asyncpreemptoff=1", "asyncpreemptoff=0", false},
		{"", "asyncpreemptoff=1,asyncpreemptoff=0", false},
		{"", "asyncpreemptoff=0,asyncpreemptoff=1", true},
		{"", "xasyncpreemptoff=1", false},
		{"asyncpreemptoff=1", "asyncpreemptoff=yes", true},
		{"", "gctrace=1,asyncpreemptoff=2", true},
	} {
		linkedGODEBUG = tt.linked
		t.Setenv("GODEBUG", tt.env)
		require.Equal(t, tt.want, PreemptionOff(), "linked %q, GODEBUG %q", tt.linked, tt.env)
	}
}
