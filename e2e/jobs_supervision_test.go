package e2e

import (
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Supervision settings of docs/jobs.md, observed: what is restarted and
// what is not, retries, starttime, stop signals and times, start and stop
// order.

func TestJobsAutorestartAndExitcodes(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		// A process up for more than a second counts as started even with
		// starttime 0 (jobs/instance.go: stableUptime), so that its exit is
		// judged by autorestart and exitcodes, not as a failed start.
		runs := func(name, exit string) []string {
			return shArgv(`echo $$ >> ` + filepath.Join(out, name) + `; sleep 1.2; exit ` + exit)
		}
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"never":      jobFile("cmd", shArgv("exit 1"), "autorestart", false, "starttime", 0),
			"expected":   jobFile("cmd", shArgv("exit 3"), "autorestart", "unexpected", "exitcodes", rawJSON("[0, 3]"), "starttime", 0),
			"single":     jobFile("cmd", shArgv("exit 5"), "exitcodes", 5, "starttime", 0), // autorestart defaults to "unexpected"
			"unexpected": jobFile("cmd", runs("unexpected", "4"), "autorestart", "unexpected", "exitcodes", rawJSON("[0, 3]"), "starttime", 0),
			"always":     jobFile("cmd", runs("always", "0"), "autorestart", true, "exitcodes", rawJSON("[0]"), "starttime", 0),
		}})
		for name, code := range map[string]int{"never": 1, "expected": 3, "single": 5} {
			st := d.awaitStates(name, 10*time.Second, "EXITED")
			p := st.Processes[0]
			require.NotNil(t, p.ExitCode, name)
			require.Equal(t, code, *p.ExitCode, name)
			require.Equal(t, 0, p.Restarts, "%s was restarted", name)
			require.Equal(t, 0, p.Pid, name)
		}
		for _, name := range []string{"unexpected", "always"} {
			path := filepath.Join(out, name)
			eventually(t, 15*time.Second, func() bool { return len(readLines(path)) >= 2 },
				"%s was not restarted: runs %v", name, readLines(path))
			got := readLines(path)
			require.NotEqual(t, got[0], got[1], "%s: the restart has the old pid", name)
			st := d.awaitJob(name, 10*time.Second, func(st jobStatus) bool {
				return len(st.Processes) == 1 && st.Processes[0].Restarts >= 1
			}, "restarts counted")
			require.NotEqual(t, "FATAL", st.Processes[0].State, name)
		}
		st := d.status()["unexpected"].Processes[0]
		require.NotNil(t, st.ExitCode)
		require.Equal(t, 4, *st.ExitCode, "the last exit of unexpected")
	})
}

func TestJobsStartretries(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		fail := func(name string) []string { return shArgv("echo x >> " + filepath.Join(out, name) + "; exit 1") }
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"retry3": jobFile("cmd", fail("retry3"), "startretries", 3),
			"retry0": jobFile("cmd", fail("retry0"), "startretries", 0),
			// With starttime 0, an exit within a second is still a failed
			// start (jobs/instance.go: stableUptime).
			"quick": jobFile("cmd", fail("quick"), "startretries", 1, "starttime", 0),
			// The original Taskmaster's name.
			"alias": jobFile("cmd", fail("alias"), "restartTimes", 2),
		}})
		for name, retries := range map[string]int{"retry3": 3, "retry0": 0, "quick": 1, "alias": 2} {
			st := d.awaitStates(name, 20*time.Second, "FATAL")
			p := st.Processes[0]
			require.Len(t, readLines(filepath.Join(out, name)), retries+1, "%s: attempts", name)
			require.NotNil(t, p.ExitCode, name)
			require.Equal(t, 1, *p.ExitCode, name)
			require.Equal(t, retries, p.Restarts, "%s: restarts", name)
			require.Equal(t, "FATAL", st.State, name)
			require.False(t, st.Healthy, name)
		}
	})
}

func TestJobsStarttime(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		const starttime = 3 * time.Second
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"slow": jobFile("cmd", []string{"sleep", "1000"}, "starttime", starttime.Seconds()),
			// Dies before its starttime, with an expected exit code: a
			// failed start all the same.
			"early": jobFile("cmd", shArgv("sleep 0.3; exit 0"), "starttime", starttime.Seconds(), "startretries", 3),
		}})
		var starting, running *processStatus
		earlySeen := map[string]bool{}
		var early processStatus
		eventually(t, 20*time.Second, func() bool {
			all := d.status()
			if ps := all["slow"].Processes; len(ps) == 1 {
				p := ps[0]
				switch {
				case p.State == "STARTING" && starting == nil:
					starting = &p
				case p.State == "RUNNING" && running == nil:
					running = &p
				}
			}
			if ps := all["early"].Processes; len(ps) == 1 {
				early = ps[0]
				earlySeen[early.State] = true
			}
			return running != nil && early.State == "FATAL"
		}, "slow never RUNNING or early never FATAL: %+v", &early)
		require.NotNil(t, starting, "slow was never seen STARTING")
		require.Greater(t, starting.Pid, 0)
		require.Equal(t, starting.Pid, running.Pid, "the same process became RUNNING")
		require.GreaterOrEqual(t, running.Since.Sub(starting.Since), starttime,
			"RUNNING came before starttime")

		require.True(t, earlySeen["BACKOFF"], "early was never seen in BACKOFF: %v", earlySeen)
		require.False(t, earlySeen["RUNNING"], "early was RUNNING before its starttime")
		require.NotNil(t, early.ExitCode)
		require.Equal(t, 0, *early.ExitCode)
		require.Equal(t, 3, early.Restarts)
	})
}

func TestJobsStopsignalAndStoptime(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		usr2, stubborn := filepath.Join(out, "usr2"), filepath.Join(out, "stubborn")
		const stoptime = 1500 * time.Millisecond
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"usr2": jobFile("cmd", []string{bin.testprog, "record", "-out", usr2, "-exit-on", "USR2"},
				"stopsignal", "USR2", "starttime", 0),
			"stubborn": jobFile("cmd", []string{bin.testprog, "record", "-out", stubborn, "-exit-on", "none"},
				"stoptime", stoptime.Seconds(), "starttime", 0),
			"numeric": jobFile("cmd", []string{bin.testprog, "record", "-out", filepath.Join(out, "numeric"), "-exit-on", "WINCH"},
				"stopSig", 28, "starttime", 0), // alias, and a number: SIGWINCH
		}})
		u := d.awaitReady(usr2, 1, 0)
		s := d.awaitReady(stubborn, 1, 0)
		n := d.awaitReady(filepath.Join(out, "numeric"), 1, 0)

		stdout, stderr, code := d.ctl("stop", "usr2", "numeric")
		require.Equal(t, 0, code, "%s%s", stdout, stderr)
		require.Equal(t, []string{"SIGUSR2"}, readRecord(usr2).signals)
		require.Equal(t, []string{"SIGWINCH"}, readRecord(filepath.Join(out, "numeric")).signals)
		require.False(t, alive(u.pids[0]))
		require.False(t, alive(n.pids[0]))
		d.awaitStates("usr2", 5*time.Second, "STOPPED")

		start := time.Now()
		stdout, stderr, code = d.ctl("stop", "stubborn")
		took := time.Since(start)
		require.Equal(t, 0, code, "%s%s", stdout, stderr)
		require.Equal(t, []string{"SIGTERM"}, readRecord(stubborn).signals)
		require.GreaterOrEqual(t, took, stoptime, "SIGKILL came before the stoptime")
		require.Less(t, took, stoptime+5*time.Second)
		require.False(t, alive(s.pids[0]), "the stubborn process survived its stop")
		st := d.awaitStates("stubborn", 5*time.Second, "STOPPED")
		require.Contains(t, st.Processes[0].Detail, "SIGKILL")
	})
}

func TestJobsDependsOnOrder(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		shared := filepath.Join(t.TempDir(), "shared")
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"a": jobFile("cmd", []string{bin.testprog, "record", "-out", shared}, "starttime", 1),
			"b": jobFile("cmd", []string{bin.testprog, "record", "-out", shared, "-exit-on", "USR1"},
				"stopsignal", "USR1", "starttime", 0, "depends_on", []string{"a"}),
		}})
		var a, b jobStatus
		sawWaiting := false
		eventually(t, 15*time.Second, func() bool {
			all := d.status()
			a, b = all["a"], all["b"]
			if len(a.Processes) != 1 || len(b.Processes) != 1 {
				return false
			}
			if a.Processes[0].State != "RUNNING" {
				require.Equal(t, 0, b.Processes[0].Pid, "b started before a was RUNNING: a %+v, b %+v", a, b)
				require.Equal(t, "STOPPED", b.Processes[0].State)
				sawWaiting = sawWaiting || b.Processes[0].Detail == "waiting for a"
			}
			return b.Processes[0].State == "RUNNING"
		}, "b never RUNNING: a %+v, b %+v", &a, &b)
		require.True(t, sawWaiting, "b was never seen waiting for a")
		require.False(t, b.Processes[0].Since.Before(a.Processes[0].Since), "b RUNNING before a")
		rec := awaitLines(t, shared, 2, 10*time.Second)
		require.ElementsMatch(t, []string{"ready " + strconv.Itoa(a.Processes[0].Pid), "ready " + strconv.Itoa(b.Processes[0].Pid)}, rec,
			"the processes that started")

		// At shutdown, b (the dependent) stops before a gets its signal.
		d.signal(syscall.SIGTERM)
		require.Equal(t, 0, d.wait(15*time.Second))
		require.Equal(t, []string{"SIGUSR1", "SIGTERM"}, readRecord(shared).signals, "stop order")
	})
}
