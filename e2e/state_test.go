package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The state directory (-state, docs/pid1.md): a taskmasterd that was
// SIGKILLed outside a container leaves its jobs running; the next one
// stops them before it starts its own, instead of running duplicates.

// processID is a process named for good: its pid and start time.
type processID struct {
	pid   int
	start string
}

func idOf(t *testing.T, pid int) processID {
	t.Helper()
	st := startTime(pid)
	require.NotEmpty(t, st, "pid %d is gone", pid)
	return processID{pid, st}
}

// alive reports whether the very process p still lives: a later process
// with the same pid is not it.
func (p processID) alive() bool { return alive(p.pid) && startTime(p.pid) == p.start }

// killLater SIGKILLs the processes at the end of the test, if they still
// live: a SIGKILLed subreaper leaves them to the system's init.
func killLater(t *testing.T, ps []processID) {
	t.Cleanup(func() {
		for _, p := range ps {
			if p.alive() {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
	})
}

// liveWithCmdline returns the live processes of the machine whose command
// line holds part.
func liveWithCmdline(part string) []int {
	var out []int
	for pid, p := range procs() {
		if p.state != "Z" && cmdlineHas(pid, part) {
			out = append(out, pid)
		}
	}
	return out
}

func TestStateStopsTheGroupsOfASIGKILLedTaskmasterd(t *testing.T) {
	state, out := t.TempDir(), filepath.Join(t.TempDir(), "web")
	jobs := map[string]string{
		// Each process has a child in its group (the sleep), which must go
		// too.
		"web": jobFile("cmd", shArgv("/bin/sleep 1000 & exec "+bin.testprog+" record -out "+out+" -exit-on TERM"),
			"numprocs", 2, "starttime", 0, "stoptime", 5),
	}
	first := startJobsDaemon(t, daemonOpts{mode: asSubreaper, state: state, jobs: jobs})
	first.awaitRunning("web", 2)
	rec := first.awaitReady(out, 2, 0)
	var old []processID
	for _, p := range descendants(first.pid) {
		if slices.Contains(rec.pids, p.pgid) {
			old = append(old, idOf(t, p.pid))
		}
	}
	require.Len(t, old, 4, "two processes with a child each")
	killLater(t, old)

	require.NoError(t, syscall.Kill(first.pid, syscall.SIGKILL))
	first.wait(10 * time.Second)
	for _, p := range old {
		require.True(t, p.alive(), "pid %d did not outlive the SIGKILLed taskmasterd", p.pid)
	}

	second := startJobsDaemon(t, daemonOpts{mode: asSubreaper, state: state, jobs: jobs})
	second.awaitRunning("web", 2)
	for _, p := range old {
		require.False(t, p.alive(), "pid %d of the first taskmasterd lives on", p.pid)
	}
	logs := second.stderr.String()
	for _, pid := range rec.pids {
		for _, msg := range []string{"stopping a process group left by the previous taskmasterd", "process group of the previous taskmasterd stopped"} {
			require.Regexp(t, fmt.Sprintf(`msg=%q instance=web:[01] pid=%d pgid=%d`, msg, pid, pid), logs)
		}
	}
	// The old ones got their stop signal, and were gone, before the new
	// ones started.
	lines := awaitLines(t, out, 6, 10*time.Second)
	var events []string
	for _, l := range lines {
		events = append(events, strings.Fields(l)[0])
	}
	require.Equal(t, []string{"ready", "ready", "SIGTERM", "SIGTERM", "ready", "ready"}, filterEvents(events), "%s", strings.Join(lines, "\n"))
	require.Len(t, liveWithCmdline(out), 2, "exactly numprocs processes of the job")
}

// filterEvents keeps the ready and signal lines of a record, in order.
func filterEvents(events []string) []string {
	var out []string
	for _, e := range events {
		if e == "ready" || strings.HasPrefix(e, "SIG") {
			out = append(out, e)
		}
	}
	return out
}

// A journal entry whose pid now names another process (its start time
// differs) is not that process: it is left alone. The entry is written by
// the test, in the format docs/pid1.md documents.
func TestStateLeavesAReusedPidAlone(t *testing.T) {
	reused, recorded := startOwnGroup(t), startOwnGroup(t)
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	require.NoError(t, err)
	ns, err := os.Readlink("/proc/self/ns/pid")
	require.NoError(t, err)
	entry := func(p *exec.Cmd, start string, instance string) string {
		return fmt.Sprintf(`{"op":"start","boot":%q,"pidns":%q,"pgid":%d,"pid":%d,"start":%s,"instance":%q,"stopsignal":15,"stoptime_ms":5000}`+"\n",
			strings.TrimSpace(string(boot)), ns, p.Process.Pid, p.Process.Pid, start, instance)
	}
	realStart := startTime(reused.Process.Pid)
	n, err := strconv.ParseUint(realStart, 10, 64)
	require.NoError(t, err)
	state := t.TempDir()
	writeFile(t, filepath.Join(state, "groups.journal"),
		entry(reused, strconv.FormatUint(n-1, 10), "old:0")+entry(recorded, startTime(recorded.Process.Pid), "old:1"))

	d := startJobsDaemon(t, daemonOpts{mode: asSubreaper, state: state})
	eventually(t, 10*time.Second, func() bool {
		return strings.Contains(d.stderr.String(), fmt.Sprintf(`msg="process group of the previous taskmasterd: left alone: the pid is another process's now" instance=old:0 pid=%d`, reused.Process.Pid))
	}, "the reused pid was not recognised:\n%s", d.stderr.String())
	awaitLogged(t, d.stderr, fmt.Sprintf(`msg="process group of the previous taskmasterd stopped" instance=old:1 pid=%d`, recorded.Process.Pid), 10*time.Second)

	// The recorded one died of its stop signal; the other is untouched:
	// had it been sent SIGTERM, it would have died of it already.
	require.Equal(t, syscall.SIGTERM, waitSignal(t, recorded))
	require.True(t, alive(reused.Process.Pid))
	require.NoError(t, reused.Process.Kill())
	require.Equal(t, syscall.SIGKILL, waitSignal(t, reused))
}

// startOwnGroup starts a process of the test's in a process group of its
// own, as a job's would be.
func startOwnGroup(t *testing.T) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("/bin/sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd
}

// waitSignal waits for cmd and returns the signal that ended it.
func waitSignal(t *testing.T, cmd *exec.Cmd) syscall.Signal {
	t.Helper()
	_ = cmd.Wait()
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	require.True(t, ws.Signaled(), "%v", cmd.ProcessState)
	return ws.Signal()
}

// Two taskmasterds never share a state directory: the second warns, runs
// its jobs without recording, and stops nothing of the first's.
func TestStateDirectoryInUseIsAWarning(t *testing.T) {
	state := t.TempDir()
	first := startJobsDaemon(t, daemonOpts{mode: asSubreaper, state: state, jobs: map[string]string{"a": sleeper()}})
	pids := first.awaitRunning("a", 1)
	second := startJobsDaemon(t, daemonOpts{mode: asSubreaper, state: state, jobs: map[string]string{"b": sleeper()}})
	second.awaitRunning("b", 1)
	awaitLogged(t, second.stderr,
		fmt.Sprintf(`level=WARN msg="state directory in use by another taskmasterd: process groups are not recorded, and none is stopped" dir=%s err="in use by another taskmasterd (pid %d)"`, state, first.pid), 10*time.Second)
	require.True(t, alive(pids[0]))
	require.Equal(t, pids, first.awaitRunning("a", 1))
}

// A state directory taskmasterd cannot use is a warning, not a failure.
func TestStateDirectoryUnusableIsAWarning(t *testing.T) {
	file := filepath.Join(t.TempDir(), "not-a-dir")
	writeFile(t, file, "")
	d := startJobsDaemon(t, daemonOpts{mode: asSubreaper, state: filepath.Join(file, "state"), jobs: map[string]string{"a": sleeper()}})
	d.awaitRunning("a", 1)
	awaitLogged(t, d.stderr, `level=WARN msg="state directory not usable: process groups are not recorded, and those an earlier taskmasterd left are not stopped"`, 10*time.Second)
}
