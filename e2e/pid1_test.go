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

// forEachMode runs f as a subtest with taskmasterd as PID 1 and as a
// subreaper.
func forEachMode(t *testing.T, f func(t *testing.T, m mode)) {
	for _, m := range modes {
		t.Run(string(m), func(t *testing.T) {
			t.Parallel()
			f(t, m)
		})
	}
}

// A job that starts 100 background children and exits: taskmasterd adopts
// them, and once they end, nothing is left below it, not even a zombie.
// The children (cat, a program) block on a gate the test releases once it
// has seen all of them adopted. ("leftovers": "keep" lets them outlive the
// job as orphans, which is what is tested here; jobs_leftovers_test.go has
// the default, "stop".)
func TestBackgroundChildrenAreReaped(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		g := newGate(t)
		d := startDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"spawner": jobFile("cmd", spawnBlocked(g.path(), 100, "cat <&3"), "autorestart", false, "starttime", 0, "leftovers", "keep"),
		}})
		d.awaitAdopted("cat", 100, time.Minute)
		g.release()
		d.awaitNoneBelow(time.Minute)
		d.signal(syscall.SIGTERM)
		require.Equal(t, 0, d.wait(10*time.Second))
	})
}

// 2,000 orphans, all alive at once, end together and are all reaped. They
// are subshells (a fork each, no exec: the storm comes quickly) blocked on
// a gate: the test counts all 2,000 adopted by taskmasterd before it
// releases them, however long the machine takes to fork them.
func TestOrphanStormIsFullyReaped(t *testing.T) {
	const orphans = 2000
	forEachMode(t, func(t *testing.T, m mode) {
		g := newGate(t)
		d := startDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"storm": jobFile("cmd", spawnBlocked(g.path(), orphans, "read x <&3"), "autorestart", false, "starttime", 0, "leftovers", "keep"),
		}})
		d.awaitAdopted("sh", orphans, 2*time.Minute)
		g.release()
		d.awaitNoneBelow(time.Minute)
		d.signal(syscall.SIGTERM)
		require.Equal(t, 0, d.wait(10*time.Second))
	})
}

// shutdownJobs are jobs that record the signals they get: polite ones exit
// on their stop signal, a stubborn one ignores it and must be SIGKILLed
// after its stoptime; polite ones also have children in their process
// group.
func shutdownJobs(dir string, stubborn bool) map[string]string {
	jobs := map[string]string{
		"polite": jobFile("cmd", []string{bin.testprog, "record", "-out", filepath.Join(dir, "polite"), "-children", "2"},
			"numprocs", 2, "starttime", 0),
		"usr1": jobFile("cmd", []string{bin.testprog, "record", "-out", filepath.Join(dir, "usr1"), "-exit-on", "USR1"},
			"stopsignal", "USR1", "starttime", 0),
	}
	if stubborn {
		jobs["stubborn"] = jobFile("cmd", []string{bin.testprog, "record", "-out", filepath.Join(dir, "stubborn"), "-exit-on", "none", "-children", "1"},
			"stoptime", 1, "starttime", 0)
	}
	return jobs
}

// awaitReady waits until the record file at path shows want processes
// ready and their children started, and returns what it shows with the
// pids as the test sees them (not as taskmasterd's namespace does).
func (d *daemon) awaitReady(path string, want, children int) recorded {
	d.t.Helper()
	var r recorded
	eventually(d.t, 10*time.Second, func() bool {
		r = readRecord(path)
		return len(r.pids) == want && len(r.children) == want*children
	}, "%s: not ready: %+v", path, r)
	r.pids, r.children = d.hostPids(r.pids), d.hostPids(r.children)
	return r
}

func TestShutdownSignalsStopEveryJobGracefully(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT} {
		t.Run(unix.SignalName(sig), func(t *testing.T) {
			forEachMode(t, func(t *testing.T, m mode) {
				out := t.TempDir()
				d := startDaemon(t, daemonOpts{mode: m, jobs: shutdownJobs(out, false)})
				polite := d.awaitReady(filepath.Join(out, "polite"), 2, 2)
				usr1 := d.awaitReady(filepath.Join(out, "usr1"), 1, 0)
				d.signal(sig)
				require.Equal(t, 0, d.wait(10*time.Second), "a graceful shutdown exits 0")
				require.Equal(t, []string{"SIGTERM", "SIGTERM"}, readRecord(filepath.Join(out, "polite")).signals)
				require.Equal(t, []string{"SIGUSR1"}, readRecord(filepath.Join(out, "usr1")).signals)
				for _, pid := range slices.Concat(polite.pids, polite.children, usr1.pids) {
					require.False(t, alive(pid), "pid %d survived the shutdown", pid)
				}
			})
		})
	}
}

func TestShutdownKillsWhatIgnoresItsStopSignal(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		d := startDaemon(t, daemonOpts{mode: m, jobs: shutdownJobs(out, true)})
		d.awaitReady(filepath.Join(out, "polite"), 2, 2)
		stubborn := d.awaitReady(filepath.Join(out, "stubborn"), 1, 1)
		start := time.Now()
		d.signal(syscall.SIGTERM)
		require.Equal(t, 3, d.wait(10*time.Second), "a shutdown that needed SIGKILL exits 3")
		took := time.Since(start)
		require.GreaterOrEqual(t, took, time.Second, "SIGKILL came before the stoptime")
		require.Less(t, took, 5*time.Second)
		require.Equal(t, []string{"SIGTERM"}, readRecord(filepath.Join(out, "stubborn")).signals)
		for _, pid := range slices.Concat(stubborn.pids, stubborn.children) {
			require.False(t, alive(pid), "pid %d of the stubborn job's group survived", pid)
		}
	})
}

func TestSecondSignalSkipsToSIGKILL(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		d := startDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"stubborn": jobFile("cmd", []string{bin.testprog, "record", "-out", filepath.Join(out, "stubborn"), "-exit-on", "none"},
				"stoptime", 60, "starttime", 0),
		}})
		d.awaitReady(filepath.Join(out, "stubborn"), 1, 0)
		start := time.Now()
		d.signal(syscall.SIGTERM)
		eventually(t, 5*time.Second, func() bool { return len(readRecord(filepath.Join(out, "stubborn")).signals) == 1 },
			"the stop signal never arrived")
		d.signal(syscall.SIGINT)
		require.Equal(t, 3, d.wait(10*time.Second))
		require.Less(t, time.Since(start), 10*time.Second, "the second signal did not cut the stoptime short")
	})
}

// Processes that left their job's process group (daemons that double
// fork) are ended at shutdown too.
func TestShutdownEndsLeftoverOrphans(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		// setsid moves the child out of the job's process group.
		escape := fmt.Sprintf(`setsid %s record -out %s/escaped & exec %s record -out %s/leader`, bin.testprog, out, bin.testprog, out)
		d := startDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"escaper": jobFile("cmd", []string{"/bin/sh", "-c", escape}, "starttime", 0),
		}})
		escaped := d.awaitReady(filepath.Join(out, "escaped"), 1, 0)
		d.awaitReady(filepath.Join(out, "leader"), 1, 0)
		d.signal(syscall.SIGTERM)
		require.Equal(t, 0, d.wait(10*time.Second))
		// The sweep sends SIGTERM and SIGCONT (for a stopped process); the
		// recorder may note the SIGCONT too, in either order, before it
		// exits on the SIGTERM.
		got := readRecord(filepath.Join(out, "escaped")).signals
		require.Contains(t, got, "SIGTERM")
		require.Subset(t, []string{"SIGTERM", "SIGCONT"}, got)
		require.False(t, alive(escaped.pids[0]))
	})
}

func TestCriticalJobExitIsTheExitCode(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		// The app ends once the sidecar is ready (its record file has a
		// line), not after a sleep the sidecar's start might outlast.
		app := fmt.Sprintf("while [ ! -s %s/sidecar ]; do sleep 0.05; done; exit 7", out)
		d := startDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"app": jobFile("cmd", []string{"/bin/sh", "-c", app}, "critical", true,
				"autorestart", false, "starttime", 0),
			"sidecar": jobFile("cmd", []string{bin.testprog, "record", "-out", filepath.Join(out, "sidecar")}, "starttime", 0),
		}})
		// No awaitReady: it looks the sidecar's pid up among the daemon's
		// descendants, and the shutdown the app starts may have ended it.
		require.Equal(t, 7, d.wait(10*time.Second))
		require.Equal(t, []string{"SIGTERM"}, readRecord(filepath.Join(out, "sidecar")).signals)
	})
}

func TestCriticalJobKilledBySignalIs128PlusN(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		d := startDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"app": jobFile("cmd", []string{"/bin/sh", "-c", "kill -SEGV $$"}, "critical", true,
				"autorestart", false, "starttime", 0),
		}})
		require.Equal(t, 128+int(syscall.SIGSEGV), d.wait(10*time.Second))
	})
}

func TestCriticalJobThatNeverStartsEndsInFatal(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		d := startDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"app": jobFile("cmd", "/no/such/program", "critical", true, "startretries", 1),
		}})
		require.Equal(t, 127, d.wait(10*time.Second))
	})
}

// Signals that taskmasterd does not use itself reach the jobs that ask for
// them in forwardsignals, and only those.
func TestForwardSignalsReachTheJobsThatAsk(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		d := startDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"asks": jobFile("cmd", []string{bin.testprog, "record", "-out", filepath.Join(out, "asks"), "-children", "1"},
				"starttime", 0, "forwardsignals", []string{"USR2", "WINCH"}),
			"deaf": jobFile("cmd", []string{bin.testprog, "record", "-out", filepath.Join(out, "deaf")}, "starttime", 0),
		}})
		d.awaitReady(filepath.Join(out, "asks"), 1, 1)
		d.awaitReady(filepath.Join(out, "deaf"), 1, 0)
		d.signal(syscall.SIGUSR2)
		d.signal(syscall.SIGWINCH)
		eventually(t, 5*time.Second, func() bool { return len(readRecord(filepath.Join(out, "asks")).signals) == 2 },
			"the job did not get its forwarded signals: %v", readRecord(filepath.Join(out, "asks")).signals)
		// Two signals pending at once may be delivered in either order.
		require.ElementsMatch(t, []string{"SIGUSR2", "SIGWINCH"}, readRecord(filepath.Join(out, "asks")).signals)
		d.signal(syscall.SIGTERM)
		require.Equal(t, 0, d.wait(10*time.Second))
		require.Equal(t, []string{"SIGTERM"}, readRecord(filepath.Join(out, "deaf")).signals,
			"a job that did not ask got a forwarded signal")
	})
}

// SIGUSR1 reopens the jobs' log files, so logrotate can move them away.
func TestUSR1ReopensLogFiles(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		log := filepath.Join(out, "app.log")
		trigger := filepath.Join(out, "trigger")
		// Prints "before", then "after" once the trigger file appears.
		script := fmt.Sprintf(`echo before; while [ ! -e %s ]; do sleep 0.05; done; echo after; exec sleep 1000`, trigger)
		d := startDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"app": jobFile("cmd", []string{"/bin/sh", "-c", script}, "starttime", 0, "stdout", log),
		}})
		eventually(t, 10*time.Second, func() bool { return slices.Equal(readLines(log), []string{"before"}) },
			"no first line in %s", log)
		require.NoError(t, os.Rename(log, log+".1"))
		d.signal(syscall.SIGUSR1)
		eventually(t, 5*time.Second, func() bool { _, err := os.Stat(log); return err == nil },
			"SIGUSR1 did not reopen %s", log)
		eventually(t, 5*time.Second, func() bool {
			return strings.Contains(d.stderr.String(), `msg="reopening the log files" reason="signal SIGUSR1"`)
		}, "SIGUSR1's reopen was not logged")
		require.NoError(t, os.WriteFile(trigger, nil, 0o644))
		eventually(t, 10*time.Second, func() bool { return slices.Equal(readLines(log), []string{"after"}) },
			"the second line did not go to the reopened file: %v", readLines(log))
		require.Equal(t, []string{"before"}, readLines(log+".1"))
		d.signal(syscall.SIGTERM)
		require.Equal(t, 0, d.wait(10*time.Second))
	})
}

// SIGHUP reloads the job files, and says so in the log: what a user reads
// in `docker logs` tells why a job changed.
func TestSIGHUPReloadIsLogged(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asSubreaper, args: []string{"-watch", "off"}})
	d.writeJob("late", jobFile("cmd", []string{"/bin/sleep", "1000"}, "starttime", 0))
	d.signal(syscall.SIGHUP)
	eventually(t, 10*time.Second, func() bool { return strings.Contains(d.stderr.String(), `msg="job loaded" job=late`) },
		"SIGHUP did not load the new job file")
	require.Contains(t, d.stderr.String(), `msg="reloading the job files" reason="signal SIGHUP"`)
}

// "stdout": "/dev/stdout" writes to taskmasterd's own stdout (here a pipe)
// without the "Illegal seek" that supervisord's rotating logger hits.
func TestStdoutToDevStdout(t *testing.T) {
	d := startDaemon(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"direct": jobFile("cmd", []string{"/bin/sh", "-c", "echo straight through; exec sleep 1000"},
			"starttime", 0, "stdout", "/dev/stdout"),
	}})
	eventually(t, 10*time.Second, func() bool { return strings.Contains(d.stdout.String(), "straight through\n") },
		"nothing reached taskmasterd's stdout: %q", d.stdout.String())
	require.NotContains(t, d.stdout.String(), "direct:0 | ", "a file destination is written as is, unprefixed")
	require.NotContains(t, d.stderr.String(), "seek")
	d.signal(syscall.SIGTERM)
	require.Equal(t, 0, d.wait(10*time.Second))
}

// Built as `make build` builds it, taskmasterd starts with async preemption
// off (linked in) and does not re-exec itself: its environment is the one
// it was given, and the jobs get the GODEBUG it was started with. (That
// every SIGURG is then forwarded, TestNoSignalEndsTaskmasterd shows.)
func TestNoReexecWhenLinkedIn(t *testing.T) {
	out := filepath.Join(t.TempDir(), "godebug")
	d := startListening(t, daemonOpts{mode: asSubreaper, env: []string{"GODEBUG=madvdontneed=1"}, jobs: map[string]string{
		"show": jobFile("cmd", []string{"/bin/sh", "-c", `echo "$GODEBUG" > ` + out}, "autorestart", false, "starttime", 0),
	}})
	eventually(t, 10*time.Second, func() bool { return len(readLines(out)) == 1 }, "the job never ran")
	require.Equal(t, []string{"madvdontneed=1"}, readLines(out))
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", d.pid))
	require.NoError(t, err)
	require.Contains(t, string(environ), "GODEBUG=madvdontneed=1\x00")
	require.NotContains(t, string(environ), "TASKMASTER_ORIG_GODEBUG")
}

// Built by a plain `go build` (no linked default), taskmasterd re-executes
// itself once to own SIGURG (docs/pid1.md); a GODEBUG it was started with
// must neither stop that nor reach the jobs changed.
func TestGODEBUGIsKeptForJobs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "godebug")
	d := startDaemon(t, daemonOpts{mode: asSubreaper, binary: bin.taskmasterdPlain, env: []string{"GODEBUG=madvdontneed=1"}, jobs: map[string]string{
		"show": jobFile("cmd", []string{"/bin/sh", "-c", `echo "$GODEBUG" > ` + out}, "autorestart", false, "starttime", 0),
	}})
	eventually(t, 10*time.Second, func() bool { return len(readLines(out)) == 1 }, "the job never ran")
	require.Equal(t, []string{"madvdontneed=1"}, readLines(out))
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", d.pid))
	require.NoError(t, err)
	require.Contains(t, string(environ), "GODEBUG=madvdontneed=1,asyncpreemptoff=1\x00")
	// The re-exec keeps the process's name: ps shows taskmasterd, not exe.
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", d.pid))
	require.NoError(t, err)
	require.Equal(t, "taskmasterd\n", string(comm))
	d.signal(syscall.SIGTERM)
	require.Equal(t, 0, d.wait(10*time.Second))
}
