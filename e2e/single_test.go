package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Single-command mode is a drop-in for tini: taskmasterd -- CMD.

func TestSingleCommandPassesExitCodesThrough(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		for _, code := range []int{0, 1, 2, 127, 255} {
			d := startDaemon(t, daemonOpts{mode: m, noJobs: true, command: []string{"/bin/sh", "-c", "exit " + strconv.Itoa(code)}})
			require.Equal(t, code, d.wait(10*time.Second), "exit %d", code)
		}
	})
}

func TestSingleCommandKilledBySignalIs128PlusN(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGKILL} {
			d := startDaemon(t, daemonOpts{mode: m, noJobs: true,
				command: []string{"/bin/sh", "-c", "kill -" + unix.SignalName(sig)[3:] + " $$"}})
			require.Equal(t, 128+int(sig), d.wait(10*time.Second), unix.SignalName(sig))
		}
	})
}

func TestSingleCommandMissingOrNotExecutable(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		d := startDaemon(t, daemonOpts{mode: m, noJobs: true, command: []string{"/no/such/program"}})
		require.Equal(t, 127, d.wait(10*time.Second))
		d = startDaemon(t, daemonOpts{mode: m, noJobs: true, command: []string{"no-such-program-in-path"}})
		require.Equal(t, 127, d.wait(10*time.Second))

		script := filepath.Join(t.TempDir(), "script")
		require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\nexit 0\n"), 0o644))
		d = startDaemon(t, daemonOpts{mode: m, noJobs: true, command: []string{script}})
		require.Equal(t, 126, d.wait(10*time.Second))
	})
}

// Every signal taskmasterd can catch reaches the command: 1 to 31 but
// SIGKILL and SIGSTOP (which nobody can catch), SIGCHLD (taskmasterd's own
// news) and SIGPROF (which the Go runtime keeps; see docs/pid1.md).
func TestSingleCommandForwardsEverySignal(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := filepath.Join(t.TempDir(), "signals")
		d := startDaemon(t, daemonOpts{mode: m, noJobs: true,
			command: []string{bin.testprog, "record", "-out", out, "-exit-on", "TERM"}})
		d.awaitReady(out, 1, 0)
		var want []string
		for sig := syscall.Signal(1); sig <= 31; sig++ {
			switch sig {
			case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGPROF, syscall.SIGTERM:
				continue
			}
			d.signal(sig)
			want = append(want, unix.SignalName(sig))
			eventually(t, 5*time.Second, func() bool { return len(readRecord(out).signals) == len(want) },
				"%s did not reach the command; it got %v", unix.SignalName(sig), readRecord(out).signals)
		}
		d.signal(syscall.SIGTERM)
		require.Equal(t, 0, d.wait(10*time.Second))
		require.Equal(t, append(want, "SIGTERM"), readRecord(out).signals)
	})
}

// With -jobs as well, the command runs beside the jobs, and its end ends
// them.
func TestSingleCommandBesideJobs(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		d := startDaemon(t, daemonOpts{mode: m,
			jobs: map[string]string{
				"sidecar": jobFile("cmd", []string{bin.testprog, "record", "-out", filepath.Join(out, "sidecar")}, "starttime", 0),
			},
			command: []string{"/bin/sh", "-c", "while [ ! -s " + filepath.Join(out, "sidecar") + " ]; do sleep 0.05; done; exit 4"},
		})
		require.Equal(t, 4, d.wait(10*time.Second))
		require.Equal(t, []string{"SIGTERM"}, readRecord(filepath.Join(out, "sidecar")).signals)
	})
}

// After the command was stopped on request, a shutdown signal is
// taskmasterd's own to act on: nobody is left to pass it to.
func TestSingleCommandStoppedThenSignalShutsDown(t *testing.T) {
	d := startDaemon(t, daemonOpts{mode: asPID1, noJobs: true, command: []string{"/bin/sleep", "1000"}})
	eventually(t, 10*time.Second, func() bool { _, _, code := d.ctl("status"); return code == 0 },
		"the control port never answered")
	_, stderr, code := d.ctl("stop", "main")
	require.Equal(t, 0, code, stderr)
	d.signal(syscall.SIGTERM)
	require.Equal(t, 0, d.wait(10*time.Second))
}
