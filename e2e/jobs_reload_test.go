package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Reloading the jobs directory (docs/jobs.md): each case is triggered by
// the directory watcher and, separately, by SIGHUP with -watch off. A job
// named keep, which no change touches, must keep its process throughout.

// sleeperJob is a long-running job that starts at once.
func sleeperJob(kv ...any) string {
	return jobFile(append([]any{"cmd", []string{"sleep", "1000"}, "starttime", 0}, kv...)...)
}

// recorderJob is a job whose processes record the signals they get in path.
func recorderJob(path string, kv ...any) string {
	return jobFile(append([]any{"cmd", []string{bin.testprog, "record", "-out", path}, "starttime", 0}, kv...)...)
}

// startReloadDaemon starts taskmasterd as PID 1 with the job keep beside
// jobs, reloading as r says, and returns it with keep's pid.
func startReloadDaemon(t *testing.T, r reloadVia, jobs map[string]string) (*daemon, int) {
	t.Helper()
	jobs["keep"] = sleeperJob()
	d := startJobsDaemon(t, daemonOpts{mode: asPID1, jobs: jobs, args: r.args})
	return d, d.awaitRunning("keep", 1)[0]
}

func TestJobsReloadNewFile(t *testing.T) {
	forEachTrigger(t, func(t *testing.T, r reloadVia) {
		out := filepath.Join(t.TempDir(), "fresh")
		d, keep := startReloadDaemon(t, r, map[string]string{})
		d.writeJob("fresh", recorderJob(out, "numprocs", 2))
		d.writeJob("idle", sleeperJob("autostart", false))
		r.changed(d)
		d.awaitRunning("fresh", 2)
		d.awaitReady(out, 2, 0)
		st := d.awaitJob("idle", 10*time.Second, func(st jobStatus) bool { return len(st.Processes) == 1 },
			"idle is loaded")
		require.False(t, st.AutoStart)
		require.Equal(t, "STOPPED", st.Processes[0].State, "a job without autostart was started")
		require.Equal(t, 0, st.Processes[0].Pid)
		require.Equal(t, []int{keep}, d.awaitRunning("keep", 1), "an unchanged job was restarted")
	})
}

func TestJobsReloadRemovedFile(t *testing.T) {
	forEachTrigger(t, func(t *testing.T, r reloadVia) {
		out := filepath.Join(t.TempDir(), "gone")
		d, keep := startReloadDaemon(t, r, map[string]string{"gone": recorderJob(out, "numprocs", 2)})
		gone := d.awaitReady(out, 2, 0)
		d.removeJob("gone")
		r.changed(d)
		d.awaitGone("gone", 10*time.Second)
		require.Equal(t, []string{"SIGTERM", "SIGTERM"}, readRecord(out).signals, "each process got its stop signal")
		for _, pid := range gone.pids {
			require.False(t, alive(pid), "pid %d of a removed job lives on", pid)
		}
		_, _, code := d.ctl("status", "gone")
		require.Equal(t, 1, code, "the removed job is still known")
		require.Equal(t, []int{keep}, d.awaitRunning("keep", 1), "an unchanged job was restarted")
	})
}

func TestJobsReloadChangedFile(t *testing.T) {
	forEachTrigger(t, func(t *testing.T, r reloadVia) {
		dir := t.TempDir()
		before, after := filepath.Join(dir, "before"), filepath.Join(dir, "after")
		d, keep := startReloadDaemon(t, r, map[string]string{"edit": recorderJob(before, "numprocs", 2)})
		old := d.awaitReady(before, 2, 0)
		oldPids := d.awaitRunning("edit", 2)

		d.writeJob("edit", recorderJob(after, "numprocs", 2)) // a new cmd
		r.changed(d)
		d.awaitReady(after, 2, 0)
		newPids := d.awaitRunning("edit", 2)
		for _, pid := range newPids {
			require.NotContains(t, oldPids, pid, "a process of the changed job was kept")
		}
		require.Equal(t, []string{"SIGTERM", "SIGTERM"}, readRecord(before).signals, "the old processes were not stopped")
		for _, pid := range old.pids {
			require.False(t, alive(pid), "old pid %d lives on", pid)
		}
		require.Empty(t, readRecord(after).signals)
		require.Equal(t, []int{keep}, d.awaitRunning("keep", 1), "an unchanged job was restarted")
	})
}

func TestJobsReloadNumprocsOnly(t *testing.T) {
	forEachTrigger(t, func(t *testing.T, r reloadVia) {
		d, keep := startReloadDaemon(t, r, map[string]string{"scale": sleeperJob("numprocs", 3)})
		three := d.awaitRunning("scale", 3)

		d.writeJob("scale", sleeperJob("numprocs", 5))
		r.changed(d)
		five := d.awaitRunning("scale", 5)
		require.Equal(t, three, five[:3], "growing restarted the instances already running")
		for _, pid := range five[3:] {
			require.NotContains(t, three, pid)
		}
		extra := d.hostPids(five[2:])

		d.writeJob("scale", sleeperJob("numprocs", 2))
		r.changed(d)
		st := d.awaitJob("scale", 10*time.Second, func(st jobStatus) bool { return len(st.Processes) == 2 },
			"shrunk to 2 instances")
		require.Equal(t, three[:2], statusPids(st), "shrinking restarted the instances kept")
		require.Equal(t, []string{"scale:0", "scale:1"}, []string{st.Processes[0].Name, st.Processes[1].Name})
		for _, pid := range extra {
			eventually(t, 10*time.Second, func() bool { return !alive(pid) }, "pid %d of a retired instance lives on", pid)
		}
		require.Equal(t, []int{keep}, d.awaitRunning("keep", 1), "an unchanged job was restarted")
	})
}

func TestJobsReloadInvalidEdit(t *testing.T) {
	forEachTrigger(t, func(t *testing.T, r reloadVia) {
		d, keep := startReloadDaemon(t, r, map[string]string{"good": sleeperJob()})
		pid := d.awaitRunning("good", 1)[0]
		path := filepath.Join(d.jobs, "good.tm.json")

		d.writeJob("good", "{\n  \"cmd\": \"sleep 1000\",\n  \"numprocs\": -1\n}")
		r.changed(d)
		want := path + ":3:15: numprocs: expected an integer from 1 to 1024, got -1"
		st := d.awaitJob("good", 10*time.Second, func(st jobStatus) bool { return st.Error != "" }, "the error shows")
		require.Equal(t, want, st.Error)
		require.Equal(t, "RUNNING", st.State, "the last good version stopped")
		require.Equal(t, []int{pid}, statusPids(st), "the last good version was restarted")

		// Fixed: the new version replaces the old one, and the error goes.
		d.writeJob("good", sleeperJob("env", rawJSON(`{"V": "2"}`)))
		r.changed(d)
		st = d.awaitJob("good", 10*time.Second, func(st jobStatus) bool {
			return st.Error == "" && allRunning(st, 1) && st.Processes[0].Pid != pid
		}, "the fixed file is in use")
		require.Equal(t, []int{keep}, d.awaitRunning("keep", 1), "an unchanged job was restarted")
	})
}

// A job file that was never valid shows as INVALID, and starts once fixed.
func TestJobsReloadInvalidThenFixed(t *testing.T) {
	forEachTrigger(t, func(t *testing.T, r reloadVia) {
		d, keep := startReloadDaemon(t, r, map[string]string{"late": `{"cmd": "sleep 1000", "numprocs": 0}`})
		st := d.awaitJob("late", 10*time.Second, func(st jobStatus) bool { return st.Error != "" }, "the error shows")
		require.Equal(t, "INVALID", st.State)
		require.Empty(t, st.Processes)

		d.writeJob("late", sleeperJob("numprocs", 2))
		r.changed(d)
		d.awaitRunning("late", 2)
		require.Empty(t, d.status()["late"].Error)
		require.Equal(t, []int{keep}, d.awaitRunning("keep", 1), "an unchanged job was restarted")
	})
}

// A change of policy only (here stopsignal) applies to the running
// processes without restarting them.
func TestJobsReloadPolicyOnly(t *testing.T) {
	forEachTrigger(t, func(t *testing.T, r reloadVia) {
		out := filepath.Join(t.TempDir(), "policy")
		cmd := []string{bin.testprog, "record", "-out", out, "-exit-on", "TERM,USR1"}
		d, keep := startReloadDaemon(t, r, map[string]string{"policy": jobFile("cmd", cmd, "starttime", 0)})
		d.awaitReady(out, 1, 0)
		pid := d.awaitRunning("policy", 1)

		d.writeJob("policy", jobFile("cmd", cmd, "starttime", 0, "stopsignal", "USR1"))
		// Nothing to see until the process is stopped: wait for the reload
		// through a job added by the same change.
		d.writeJob("marker", sleeperJob())
		r.changed(d)
		d.awaitRunning("marker", 1)
		require.Equal(t, pid, d.awaitRunning("policy", 1), "a policy change restarted the process")
		stdout, stderr, code := d.ctl("stop", "policy")
		require.Equal(t, 0, code, "%s%s", stdout, stderr)
		require.Equal(t, []string{"SIGUSR1"}, readRecord(out).signals, "the new stopsignal was not used")
		require.Equal(t, []int{keep}, d.awaitRunning("keep", 1), "an unchanged job was restarted")
	})
}

// A job file removed, then put back unchanged while the job's process is
// still stopping (within its stoptime), is a job file like any other: its
// job runs again.
func TestJobsReloadReaddedWhileStopping(t *testing.T) {
	forEachTrigger(t, func(t *testing.T, r reloadVia) {
		out := filepath.Join(t.TempDir(), "web")
		// The process notes its SIGTERM and stays: the job is STOPPING
		// until the test sends SIGUSR1 (the stoptime is far), so the file
		// is put back while it stops however slow the machine is.
		body := jobFile("cmd", []string{bin.testprog, "record", "-out", out, "-exit-on", "USR1"}, "starttime", 0, "stoptime", 60)
		d, keep := startReloadDaemon(t, r, map[string]string{"web": body})
		proc := d.awaitReady(out, 1, 0).pids[0]
		old := d.awaitRunning("web", 1)[0]

		d.removeJob("web")
		r.changed(d)
		d.awaitStates("web", 10*time.Second, "STOPPING")
		d.writeJob("web", body)
		r.changed(d)
		eventually(t, 10*time.Second, func() bool {
			return strings.Contains(d.stderr.String(), `msg="job file is back; keeping the job" job=web`)
		}, "the file put back was not loaded")
		require.Equal(t, []string{"STOPPING"}, d.states("web"), "the stop ended before the file came back")
		// SIGUSR1 only once the SIGTERM is recorded: the kernel delivers
		// the lower-numbered of two pending signals first, so a process
		// that had not run since the SIGTERM would see SIGUSR1 first, and
		// exit on it (a CI run on a busy machine did).
		eventually(t, 10*time.Second, func() bool { return slices.Contains(readRecord(out).signals, "SIGTERM") },
			"the old process never recorded its SIGTERM")
		require.NoError(t, syscall.Kill(proc, syscall.SIGUSR1))
		st := d.awaitJob("web", 10*time.Second, func(st jobStatus) bool {
			return allRunning(st, 1) && st.Processes[0].Pid != old
		}, "the job runs again")
		require.Equal(t, []string{"SIGTERM", "SIGUSR1"}, readRecord(out).signals, "what the old process got")
		require.Empty(t, st.Error)
		require.Equal(t, []int{keep}, d.awaitRunning("keep", 1), "an unchanged job was restarted")
	})
}

// A job file written while taskmasterd starts (here while it loads a large
// jobs directory) is loaded like one written later: the directory must be
// watched from before it is first read, or the change is lost until some
// other change comes.
func TestJobsFileWrittenDuringStartup(t *testing.T) {
	t.Parallel()
	jobs := map[string]string{}
	for i := range 2000 {
		jobs[fmt.Sprintf("idle%04d", i)] = sleeperJob("autostart", false)
	}
	d := startDaemon(t, daemonOpts{mode: asPID1, jobs: jobs})
	// The first job logged as loaded: the directory has been read, and
	// the other 1999 are still being set up. A finer poll than eventually's,
	// as this lasts some 20ms.
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(d.stderr.String(), `msg="job loaded"`) {
		require.True(t, time.Now().Before(deadline), "no job was ever loaded")
		time.Sleep(time.Millisecond)
	}
	d.writeJob("late", sleeperJob())
	d.awaitListening()
	d.awaitJob("late", 5*time.Second, func(st jobStatus) bool { return allRunning(st, 1) }, "late.tm.json is loaded")
}
