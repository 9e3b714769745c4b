package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// start, stop, kill and restart JOB: what they print, their exit codes,
// and the processes /proc shows.
func TestCtlStartStopKillRestart(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		d := startListening(t, daemonOpts{mode: m, jobs: map[string]string{"manual": sleeper("autostart", false, "numprocs", 2)}})

		require.Equal(t, "manual: started\n", d.ctlOK("start", "manual"))
		require.Equal(t, []string{"RUNNING", "RUNNING"}, d.states("manual"), "start returned before RUNNING")
		first := d.hostPidsOf("manual")
		out, errOut := d.ctlExit(1, "start", "manual")
		require.Equal(t, "manual: already running\n", out)
		require.Empty(t, errOut)
		out, _ = d.ctlExit(1, "start", "manual:1")
		require.Equal(t, "manual:1: already running\n", out)

		require.Equal(t, "manual: stopped\n", d.ctlOK("stop", "manual"))
		requireGone(t, first, "stop returned")
		require.Equal(t, []string{"STOPPED", "STOPPED"}, d.states("manual"))
		out, _ = d.ctlExit(1, "stop", "manual")
		require.Equal(t, "manual: already stopped\n", out)
		out, _ = d.ctlExit(1, "kill", "manual")
		require.Equal(t, "manual: not running\n", out)

		// One instance.
		require.Equal(t, "manual:1: started\n", d.ctlOK("start", "manual:1"))
		require.Equal(t, []string{"STOPPED", "RUNNING"}, d.states("manual"))
		// start is idempotent per instance: manual:0 starts, manual:1 is left alone.
		one := d.hostPidOf("manual:1")
		require.Equal(t, "manual: started\n", d.ctlOK("start", "manual"))
		both := d.hostPidsOf("manual")
		require.Equal(t, one, both[1], "start restarted a running instance")

		require.Equal(t, "manual: killed\n", d.ctlOK("kill", "manual"))
		requireGone(t, both, "kill returned")
		st := d.status()["manual"]
		for _, p := range st.Processes {
			require.Equal(t, "STOPPED", p.State, "%s after kill (autorestart must not bring it back)", p.Name)
			require.Equal(t, "SIGKILL", p.Signal, p.Name)
		}

		// restart JOB: a stopped job is started; a running one gets new processes.
		require.Equal(t, "manual: restarted\n", d.ctlOK("restart", "manual"))
		before := d.hostPidsOf("manual")
		require.Equal(t, "manual: restarted\n", d.ctlOK("restart", "manual"))
		requireGone(t, before, "restart returned")
		after := d.hostPidsOf("manual")
		require.Len(t, after, 2)
		require.Equal(t, []string{"RUNNING", "RUNNING"}, d.states("manual"))

		// Several targets: each gets its line, the worst code wins.
		out, errOut = d.ctlExit(1, "stop", "manual:0", "nope")
		require.Equal(t, "manual:0: stopped\n", out)
		require.Contains(t, errOut, "taskmasterctl: nope: ")
		require.Contains(t, errOut, "no such job")
		require.Equal(t, []string{"STOPPED", "RUNNING"}, d.states("manual"))

		out, errOut = d.ctlExit(1, "-json", "start", "manual", "nope")
		require.Equal(t, `{"job":"manual","response":"success"}`+"\n"+
			`{"job":"nope","response":"fail","error":"no such job: \"nope\""}`+"\n", out)
		require.Contains(t, errOut, "nope")
	})
}

// stop all stops every job: every process is gone, nothing is left below
// taskmasterd.
func TestCtlStopAll(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		d := startListening(t, daemonOpts{mode: m, jobs: map[string]string{
			"web": sleeper("numprocs", 3),
			// A shell with a child in its process group.
			"pair": jobFile("cmd", []string{"/bin/sh", "-c", "/bin/sleep 1000 & wait"}, "starttime", 0, "stoptime", 2),
			"db":   sleeper(),
		}})
		d.awaitStates("web", 10*time.Second, "RUNNING", "RUNNING", "RUNNING")
		d.awaitStates("pair", 10*time.Second, "RUNNING")
		d.awaitStates("db", 10*time.Second, "RUNNING")
		eventually(t, 10*time.Second, func() bool { return countComm(descendants(d.pid), "sleep") == 5 },
			"5 sleeps never ran: %+v", descendants(d.pid))
		var pids []int
		for _, job := range []string{"web", "pair", "db"} {
			pids = append(pids, d.hostPidsOf(job)...)
		}
		below := descendants(d.pid)

		require.Equal(t, "all: stopped\n", d.ctlOK("stop", "all"))
		requireGone(t, pids, "stop all returned")
		for _, p := range below {
			require.False(t, alive(p.pid), "%d (%s) was below taskmasterd and survived stop all", p.pid, p.comm)
		}
		for name, st := range d.status() {
			for _, p := range st.Processes {
				require.Equal(t, "STOPPED", p.State, "%s of %s", p.Name, name)
				require.Zero(t, p.Pid, p.Name)
			}
		}
		out, _ := d.ctlExit(1, "stop", "all")
		require.Equal(t, "all: already stopped\n", out)
		require.Equal(t, "all: started\n", d.ctlOK("start", "all"))
		require.Equal(t, []string{"RUNNING", "RUNNING", "RUNNING"}, d.states("web"), "start all returned before RUNNING")
	})
}

// restart alone is the protocol's restart: every job file is read again
// (with -watch off, nothing else notices the changes).
func TestCtlRestartReloadsEveryJobFile(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, args: []string{"-watch", "off"}, jobs: map[string]string{
		"web": sleeper(),
		"old": sleeper(),
	}})
	d.awaitStates("web", 10*time.Second, "RUNNING")
	d.awaitStates("old", 10*time.Second, "RUNNING")
	oldPids := d.hostPidsOf("old")
	webPids := d.hostPidsOf("web")

	d.writeJob("late", sleeper())
	d.writeJob("web", sleeper("numprocs", 2))
	require.NoError(t, os.Remove(filepath.Join(d.jobs, "old.tm.json")))
	require.Equal(t, "old\nweb\n", d.ctlOK("list"), "-watch off noticed a change")

	require.Equal(t, "all: reloaded every job file\n", d.ctlOK("restart"))
	eventually(t, 10*time.Second, func() bool {
		return slices.Equal(d.states("web"), []string{"RUNNING", "RUNNING"}) && slices.Equal(d.states("late"), []string{"RUNNING"})
	}, "the new files were not applied: %+v", d.status())
	require.Equal(t, webPids[0], d.hostPidsOf("web")[0], "numprocs alone changed: web:0 must keep running")
	eventually(t, 10*time.Second, func() bool { _, ok := d.status()["old"]; return !ok }, "old is still listed")
	requireGone(t, oldPids, "the removed job's process")
	require.Equal(t, "late\nweb\n", d.ctlOK("list"))
}

// Whoever can push a job file runs programs as taskmasterd's user, so a
// job that runs as another user cannot control taskmasterd: its local
// connections are refused, while root's are served.
func TestCtlRefusesJobsOfOtherUsers(t *testing.T) {
	out := worldWritableDir(t)
	require.NoError(t, os.Chmod(bin.dir, 0o755)) // let nobody run taskmasterctl
	script := func(name string) []string {
		return []string{"/bin/sh", "-c", fmt.Sprintf("%s status > %s/%s.out 2>&1; echo $? > %s/%s.code",
			bin.taskmasterctl, out, name, out, name)}
	}
	d := startDaemon(t, daemonOpts{mode: asPID1})
	env := fmt.Sprintf(`{"TASKMASTER_ADDR":%q}`, d.addr)
	d.writeJob("asnobody", jobFile("cmd", script("nobody"), "user", "nobody", "autorestart", false, "starttime", 0, "env", rawJSON(env)))
	d.writeJob("asroot", jobFile("cmd", script("root"), "autorestart", false, "starttime", 0, "env", rawJSON(env)))
	for _, who := range []string{"nobody", "root"} {
		eventually(t, 10*time.Second, func() bool { return len(readLines(filepath.Join(out, who+".code"))) == 1 },
			"the %s job never ran taskmasterctl", who)
	}
	require.Equal(t, []string{"1"}, readLines(filepath.Join(out, "nobody.code")))
	nobodyOut, err := os.ReadFile(filepath.Join(out, "nobody.out"))
	require.NoError(t, err)
	require.Contains(t, string(nobodyOut), "permission denied: uid 65534 may not control taskmasterd")
	require.Equal(t, []string{"0"}, readLines(filepath.Join(out, "root.code")))
}
