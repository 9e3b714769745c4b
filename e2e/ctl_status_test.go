package e2e

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
)

// statusJobs are a job of two running instances, one that exited with an
// unexpected code, one stopped and one whose file never parsed.
func statusJobs() map[string]string {
	return map[string]string{
		"web":    sleeper("numprocs", 2),
		"once":   jobFile("cmd", []string{"/bin/sh", "-c", "exit 1"}, "autorestart", false, "starttime", 0),
		"manual": sleeper("autostart", false),
		"bad":    `{"cmdd": "/bin/true"}`,
	}
}

func TestCtlStatusTable(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		d := startListening(t, daemonOpts{mode: m, jobs: statusJobs()})
		d.awaitStates("web", 10*time.Second, "RUNNING", "RUNNING")
		d.awaitStates("once", 10*time.Second, "EXITED")
		st := d.status()

		out := d.ctlOK("status")
		require.NotContains(t, out, "\x1b", "colour in a pipe")
		tab := parseTable(t, out)
		require.Equal(t, []string{"NAME", "STATE", "PID", "UPTIME", "RESTARTS", "EXIT", "DETAIL"}, tab.header)
		var names []string
		for _, r := range tab.rows {
			names = append(names, r["NAME"])
		}
		require.Equal(t, []string{"bad", "manual:0", "once:0", "web:0", "web:1"}, names, "one row per process, jobs sorted by name")

		for i, p := range st["web"].Processes {
			r := tab.row(t, p.Name)
			require.Equal(t, "RUNNING", r["STATE"])
			require.Equal(t, strconv.Itoa(p.Pid), r["PID"], "web:%d", i)
			require.Regexp(t, `^\d+s$`, r["UPTIME"])
			require.Equal(t, "0", r["RESTARTS"])
			require.Equal(t, "-", r["EXIT"])
			require.Empty(t, r["DETAIL"])
		}
		once := tab.row(t, "once:0")
		require.Equal(t, map[string]string{"NAME": "once:0", "STATE": "EXITED", "PID": "-", "UPTIME": "-", "RESTARTS": "0",
			"EXIT": "1", "DETAIL": "exit status 1, unexpected"}, once)
		manual := tab.row(t, "manual:0")
		require.Equal(t, []string{"STOPPED", "-", "-", "0", "-"},
			[]string{manual["STATE"], manual["PID"], manual["UPTIME"], manual["RESTARTS"], manual["EXIT"]})
		bad := tab.row(t, "bad")
		require.Equal(t, []string{"INVALID", "-", "-", "-", "-"}, []string{bad["STATE"], bad["PID"], bad["UPTIME"], bad["RESTARTS"], bad["EXIT"]})
		require.Contains(t, bad["DETAIL"], "cmdd")

		one := parseTable(t, d.ctlOK("status", "web:1"))
		require.Len(t, one.rows, 1)
		require.Equal(t, "web:1", one.rows[0]["NAME"])
		job := parseTable(t, d.ctlOK("status", "web"))
		require.Len(t, job.rows, 2)

		_, errOut := d.ctlExit(1, "status", "nope")
		require.Contains(t, errOut, "taskmasterctl: nope: ")
		require.Contains(t, errOut, "no such job")
	})
}

// At a terminal the state is coloured, unless NO_COLOR says otherwise.
func TestCtlStatusColourOnlyAtATerminal(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{"web": sleeper()}})
	d.awaitStates("web", 10*time.Second, "RUNNING")
	green := "\x1b[32mRUNNING\x1b[0m"
	require.Contains(t, ctlAtTerminal(t, d, nil, "status"), green)
	require.NotContains(t, ctlAtTerminal(t, d, []string{"NO_COLOR=1"}, "status"), "\x1b")
	require.NotContains(t, d.ctlOK("status"), "\x1b")
}

// ctlAtTerminal runs taskmasterctl with its stdout on a terminal and returns
// what it wrote there.
func ctlAtTerminal(t *testing.T, d *daemon, env []string, args ...string) string {
	t.Helper()
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	defer ptmx.Close()
	cmd := exec.Command(bin.taskmasterctl, append([]string{"-addr", d.addr}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = tty
	require.NoError(t, cmd.Start())
	tty.Close() // the child has its own copy: EOF (EIO) once it exits
	out, err := io.ReadAll(ptmx)
	if !errors.Is(err, syscall.EIO) {
		require.NoError(t, err)
	}
	require.NoError(t, cmd.Wait())
	return string(out)
}

func TestCtlStatusJSON(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, jobs: statusJobs()})
	d.awaitStates("web", 10*time.Second, "RUNNING", "RUNNING")
	d.awaitStates("once", 10*time.Second, "EXITED")
	want := d.status()
	for _, args := range [][]string{{"status", "-json"}, {"-json", "status"}} {
		var got struct {
			Jobs []jobStatus `json:"jobs"`
		}
		out := d.ctlOK(args...)
		require.NoError(t, json.Unmarshal([]byte(out), &got), "%v: %q", args, out)
		require.Len(t, got.Jobs, len(want))
		for _, j := range got.Jobs {
			w := want[j.Name]
			require.Equal(t, w.State, j.State, j.Name)
			require.Equal(t, w.Healthy, j.Healthy, j.Name)
			require.Equal(t, w.Error, j.Error, j.Name)
			require.Len(t, j.Processes, len(w.Processes), j.Name)
			for i, p := range j.Processes {
				q := w.Processes[i]
				require.Equal(t, []any{q.Name, q.Pid, q.State, q.Restarts, q.ExitCode}, []any{p.Name, p.Pid, p.State, p.Restarts, p.ExitCode})
			}
		}
	}
	var one jobStatus
	require.NoError(t, json.Unmarshal([]byte(d.ctlOK("-json", "status", "web")), &one))
	require.Equal(t, "web", one.Name)
	require.Len(t, one.Processes, 2)
}

func TestCtlList(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, jobs: statusJobs()})
	require.Equal(t, "bad\nmanual\nonce\nweb\n", d.ctlOK("list"))
	require.JSONEq(t, `{"jobs":["bad","manual","once","web"]}`, d.ctlOK("-json", "list"))
	empty := startListening(t, daemonOpts{mode: asPID1})
	require.Empty(t, empty.ctlOK("list"))
	require.JSONEq(t, `{"jobs":[]}`, empty.ctlOK("list", "-json"))
}

// health follows the jobs: 0 while every autostart job is healthy, 1 once
// one is FATAL, 0 again after repair fixed it.
func TestCtlHealthAndRepair(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "ok")
	writeFile(t, flag, "")
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"web":    sleeper("numprocs", 2),
		"manual": sleeper("autostart", false),
		// Runs while the flag file exists; without it, it exits 1 at once
		// and ends FATAL after one retry.
		"flaky": jobFile("cmd", []string{"/bin/sh", "-c", `while test -e "$0"; do sleep 0.05; done; exit 1`, flag},
			"starttime", 1, "startretries", 1, "stoptime", 2),
	}})
	d.awaitStates("web", 10*time.Second, "RUNNING", "RUNNING")
	d.awaitStates("flaky", 10*time.Second, "RUNNING")
	require.Equal(t, "healthy: 2 autostart jobs\n", d.ctlOK("health"), "manual has no autostart: not counted")
	require.JSONEq(t, `{"healthy":true,"unhealthy":[]}`, d.ctlOK("health", "-json"))

	require.NoError(t, os.Remove(flag))
	d.awaitStates("flaky", 15*time.Second, "FATAL")
	out, errOut := d.ctlExit(1, "health")
	require.Empty(t, out)
	require.Contains(t, errOut, "taskmasterctl: flaky: unhealthy (FATAL): flaky:0: ")
	require.Equal(t, 1, strings.Count(errOut, "\n"), "one line per unhealthy job: %q", errOut)
	out, _ = d.ctlExit(1, "-json", "health")
	require.JSONEq(t, `{"healthy":false,"unhealthy":["flaky"]}`, out)

	// Fix the cause, then repair.
	writeFile(t, flag, "")
	require.Equal(t, "flaky: repaired\n", d.ctlOK("repair", "flaky"))
	require.Equal(t, []string{"RUNNING"}, d.states("flaky"), "repair returned before RUNNING")
	require.Equal(t, "healthy: 2 autostart jobs\n", d.ctlOK("health"))
}

func TestCtlWait(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"slow":   sleeper("starttime", 2),
		"manual": sleeper("autostart", false),
	}})
	start := time.Now()
	out := d.ctlOK("wait", "slow", "--state", "RUNNING", "--timeout", "10s")
	require.Equal(t, "slow: RUNNING\n", out)
	require.Equal(t, []string{"RUNNING"}, d.states("slow"), "wait returned before the state was reached")
	require.Less(t, time.Since(start), 10*time.Second)

	start = time.Now()
	_, errOut := d.ctlExit(1, "wait", "manual", "--state", "RUNNING", "--timeout", "1s")
	took := time.Since(start)
	require.Contains(t, errOut, "taskmasterctl: manual: ")
	require.Contains(t, errOut, "did not reach RUNNING within 1s")
	require.GreaterOrEqual(t, took, time.Second, "gave up before its timeout")
	require.Less(t, took, 8*time.Second)

	require.Equal(t, "manual: STOPPED\n", d.ctlOK("wait", "manual", "--state", "stopped", "--timeout", "5s"), "states in any case")
	_, errOut = d.ctlExit(1, "wait", "nope", "--timeout", "1s")
	require.Contains(t, errOut, "no such job")
}

// With nothing listening, every command that needs the daemon exits 3 and
// names the address.
func TestCtlNoDaemonExits3(t *testing.T) {
	d := noDaemon(t)
	for _, args := range [][]string{{"status"}, {"list"}, {"start", "web"}, {"health"}, {"tail", "web"}} {
		out, errOut := d.ctlExit(3, args...)
		require.Empty(t, out, "%v", args)
		require.Contains(t, errOut, "cannot connect to taskmasterd at "+d.addr, "%v", args)
		require.Equal(t, 1, strings.Count(errOut, "\n"), "%v: one line: %q", args, errOut)
	}
}

// Usage errors exit 2 and print the usage, without contacting the daemon
// (none listens here: contacting it would exit 3).
func TestCtlUsageErrorsExit2(t *testing.T) {
	d := noDaemon(t)
	for _, c := range []struct {
		args  []string
		usage string
	}{
		{[]string{"frob"}, "usage: taskmasterctl"},
		{[]string{}, "usage: taskmasterctl"}, // no command, stdin not a terminal
		{[]string{"-nosuchflag", "status"}, "usage: taskmasterctl"},
		{[]string{"start"}, "usage: taskmasterctl start JOB..."},
		{[]string{"status", "a", "b"}, "usage: taskmasterctl status [JOB]"},
		{[]string{"wait", "web", "--state", "BOGUS"}, "usage: taskmasterctl wait"},
		{[]string{"wait", "web", "--timeout", "-1s"}, "usage: taskmasterctl wait"},
		{[]string{"push", "nginx.json"}, "usage: taskmasterctl push FILE [JOB]"},
		{[]string{"push", "-"}, "usage: taskmasterctl push FILE [JOB]"},
		{[]string{"delete", "a", "b"}, "usage: taskmasterctl delete JOB"},
		{[]string{"tail", "-x", "web"}, "usage: taskmasterctl tail"},
	} {
		out, errOut := d.ctlExit(2, c.args...)
		require.Empty(t, out, "%v", c.args)
		require.Contains(t, errOut, c.usage, "%v", c.args)
		require.NotContains(t, errOut, "cannot connect", "%v", c.args)
	}
	_, errOut := d.ctlExit(2, "frob")
	require.Regexp(t, regexp.MustCompile(`unknown command "frob"`), errOut)
}
