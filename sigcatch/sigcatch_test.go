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
	for _, sig := range Signals {
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
