package early

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func receive(t *testing.T, c chan os.Signal, want syscall.Signal) {
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

// By the time Signals returns, the signals that would otherwise end the
// process (a terminating default action, and 34, which os/signal cannot
// catch) arrive on its channels instead, and SIGCHLD on its own.
func TestSignalsAreCaughtBeforeMain(t *testing.T) {
	sigs, err := Signals()
	require.NoError(t, err)
	for _, sig := range []syscall.Signal{syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGALRM, 34, 64} {
		require.NoError(t, syscall.Kill(os.Getpid(), sig))
		receive(t, sigs.Other, sig)
	}
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGCHLD))
	receive(t, sigs.Child, syscall.SIGCHLD)
	again, _ := Signals()
	require.Same(t, sigs, again, "one catch, started at init")
}
