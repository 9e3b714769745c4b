package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// marker is the signal sent after each signal under test: a realtime
// signal of the highest number, so that the kernel delivers it after any
// other signal pending at the same time; once a job has it, taskmasterd
// has taken the signal before it.
const marker = syscall.Signal(64)

// notForwardable are the signals a job file may not list in
// forwardsignals (jobs/jobfile/signal.go says why for each).
var notForwardable = []syscall.Signal{
	syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGPROF,
	syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
	syscall.SIGUSR1, syscall.SIGPIPE, 32, 33,
}

// neverForwarded are the signals taskmasterd never receives or never
// passes on, in any mode: SIGKILL and SIGSTOP cannot be caught, SIGCHLD is
// its own news, SIGPROF and 33 the Go runtime keeps (docs/pid1.md).
var neverForwarded = []syscall.Signal{syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGCHLD, syscall.SIGPROF, 33}

// shutdownSignals end taskmasterd gracefully, by design.
var shutdownSignals = []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT}

// signalName is the name testprog records for sig.
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return fmt.Sprintf("SIG%d", int(sig))
}

// No signal but SIGKILL and SIGSTOP ends taskmasterd, whatever its mode:
// every signal from 1 to 64 is sent in turn, each followed by the marker,
// and once the marker has gone through taskmasterd it must still be there,
// not stopped, having passed the signal on where it passes signals on.
// Signals 32 and 34 used to kill it: the Go runtime leaves them at their
// default action. The shutdown signals end it last, with exit code 0.
func TestNoSignalEndsTaskmasterd(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		t.Run("jobs", func(t *testing.T) {
			t.Parallel()
			var asked []string
			for sig := syscall.Signal(1); sig <= 64; sig++ {
				if !slices.Contains(notForwardable, sig) {
					asked = append(asked, strings.TrimPrefix(signalName(sig), "SIG"))
				}
			}
			out := filepath.Join(t.TempDir(), "signals")
			d := startDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
				"rec": jobFile("cmd", []string{bin.testprog, "record", "-out", out, "-exit-on", "TERM"},
					"starttime", 0, "forwardsignals", asked),
			}})
			d.awaitReady(out, 1, 0)
			sendEverySignal(t, d, out, func(sig syscall.Signal) bool { return !slices.Contains(notForwardable, sig) })
			d.signal(syscall.SIGTERM)
			require.Equal(t, 0, d.wait(10*time.Second), "stderr:\n%s", d.stderr)
		})
		t.Run("single-command", func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "signals")
			d := startDaemon(t, daemonOpts{mode: m, noJobs: true,
				command: []string{bin.testprog, "record", "-out", out, "-exit-on", "TERM"}})
			d.awaitReady(out, 1, 0)
			sendEverySignal(t, d, out, func(sig syscall.Signal) bool { return !slices.Contains(neverForwarded, sig) })
			d.signal(syscall.SIGTERM)
			require.Equal(t, 0, d.wait(10*time.Second), "stderr:\n%s", d.stderr)
		})
	})
}

// sendEverySignal sends taskmasterd every signal from 1 to 63 but SIGKILL,
// SIGSTOP and the shutdown signals, each followed by the marker, and checks
// after each that taskmasterd lives, is not stopped, and passed the signal
// on to the recording job when forwarded says it should.
func sendEverySignal(t *testing.T, d *daemon, out string, forwarded func(syscall.Signal) bool) {
	t.Helper()
	markers := 0
	for sig := syscall.Signal(1); sig < marker; sig++ {
		if sig == syscall.SIGKILL || sig == syscall.SIGSTOP || slices.Contains(shutdownSignals, sig) {
			continue
		}
		d.signal(sig)
		d.signal(marker)
		markers++
		want := forwarded(sig)
		var got []string
		deadline := time.Now().Add(10 * time.Second)
		for {
			got = readRecord(out).signals
			if count(got, signalName(marker)) == markers && (!want || slices.Contains(got, signalName(sig))) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s (forwarded: %v) the job got %v; taskmasterd state %q; stderr:\n%s",
					signalName(sig), want, got, procState(d.pid), d.stderr)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if !want {
			require.NotContains(t, got, signalName(sig), "%s was passed on", signalName(sig))
		}
		select {
		case <-d.done:
			t.Fatalf("taskmasterd ended after %s with code %d; stderr:\n%s", signalName(sig), d.code, d.stderr)
		default:
		}
		require.Contains(t, []string{"S", "R", "D"}, procState(d.pid), "taskmasterd is not running after %s", signalName(sig))
	}
}

func count(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}

// procState returns the state letter of /proc/PID/stat: "S" sleeping, "R"
// running, "T" stopped, "Z" zombie; "" if there is no such process.
func procState(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name, in parentheses, may hold spaces: the state follows
	// its last ')'.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}
