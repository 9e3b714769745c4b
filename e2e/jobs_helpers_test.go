package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Helpers of the job file tests (jobs_*_test.go).

// shArgv is the argv that runs script with /bin/sh: for the tests that need a
// shell's redirections, since cmd has none.
func shArgv(script string) []string { return []string{"/bin/sh", "-c", script} }

// startJobsDaemon is startDaemon followed by a wait for the control port,
// so that the test may ask for the status at once.
func startJobsDaemon(t *testing.T, o daemonOpts) *daemon {
	t.Helper()
	d := startDaemon(t, o)
	d.awaitListening()
	return d
}

// awaitListening waits until taskmasterd accepts control connections.
func (d *daemon) awaitListening() {
	d.t.Helper()
	eventually(d.t, 10*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}, "taskmasterd does not listen on %s", d.addr)
}

// awaitJob polls the status until cond holds for job, and returns the
// status that satisfied it.
func (d *daemon) awaitJob(job string, timeout time.Duration, cond func(jobStatus) bool, what string) jobStatus {
	d.t.Helper()
	var st jobStatus
	eventually(d.t, timeout, func() bool {
		st = d.status()[job]
		return cond(st)
	}, "job %s: %s; have %+v", job, what, &st)
	return st
}

// awaitGone waits until the status no longer lists job.
func (d *daemon) awaitGone(job string, timeout time.Duration) {
	d.t.Helper()
	var st jobStatus
	eventually(d.t, timeout, func() bool {
		var listed bool
		st, listed = d.status()[job]
		return !listed
	}, "job %s is still listed: %+v", job, &st)
}

// statusPids returns the pids of st's processes, in instance order.
func statusPids(st jobStatus) []int {
	out := make([]int, len(st.Processes))
	for i, p := range st.Processes {
		out[i] = p.Pid
	}
	return out
}

// allRunning reports whether st has n processes, all RUNNING with a pid.
func allRunning(st jobStatus, n int) bool {
	if len(st.Processes) != n {
		return false
	}
	for _, p := range st.Processes {
		if p.State != "RUNNING" || p.Pid <= 0 {
			return false
		}
	}
	return true
}

// awaitRunning waits until job has n RUNNING processes and returns their
// pids (as taskmasterd sees them).
func (d *daemon) awaitRunning(job string, n int) []int {
	d.t.Helper()
	st := d.awaitJob(job, 15*time.Second, func(st jobStatus) bool { return allRunning(st, n) },
		fmt.Sprintf("want %d RUNNING processes", n))
	return statusPids(st)
}

// awaitLines waits until the file at path has at least n lines, and
// returns them all.
func awaitLines(t *testing.T, path string, n int, timeout time.Duration) []string {
	t.Helper()
	var lines []string
	eventually(t, timeout, func() bool {
		lines = readLines(path)
		return len(lines) >= n
	}, "%s: want %d lines, have %q", path, n, &lines)
	return lines
}

// awaitFileContent waits until the file at path exists and returns its content.
func awaitFileContent(t *testing.T, path string, timeout time.Duration) string {
	t.Helper()
	var data []byte
	eventually(t, timeout, func() bool {
		var err error
		data, err = os.ReadFile(path)
		return err == nil && len(data) > 0
	}, "%s never got content", path)
	return string(data)
}

// awaitFileIs waits until the file at path holds want: for a file its
// writer fills in several writes, where the first content seen may be
// only part of it. On timeout it fails with what the file held.
func awaitFileIs(t *testing.T, path, want string, timeout time.Duration) {
	t.Helper()
	var data []byte
	eventually(t, timeout, func() bool {
		data, _ = os.ReadFile(path)
		return string(data) == want
	}, "%s holds %q, not %q", path, lazy(func() string { return string(data) }), want)
}

// consoleHas reports whether buf holds line as a whole line.
func consoleHas(buf *syncBuffer, line string) bool {
	return countConsoleLines(buf, line) > 0
}

// umaskOf returns the umask of process pid, from its /proc status.
func umaskOf(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
			m, err := strconv.ParseUint(strings.TrimSpace(rest), 8, 32)
			require.NoError(t, err)
			return int(m)
		}
	}
	t.Fatalf("no Umask line in /proc/%d/status", pid)
	return 0
}

// permOf returns the permission bits of the file at path.
func permOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

// worldWritableDir returns a new directory every user may write to (and reach:
// t.TempDir's parent is private to root), removed when the test ends.
func worldWritableDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "taskmaster-e2e-shared-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o1777))
	return dir
}

// removeJob removes a job file from the jobs directory.
func (d *daemon) removeJob(name string) {
	d.t.Helper()
	require.NoError(d.t, os.Remove(filepath.Join(d.jobs, name+".tm.json")))
}

// reloadVia is a way taskmasterd learns that its job files changed.
type reloadVia struct {
	name   string
	args   []string // taskmasterd flags
	sighup bool     // send SIGHUP after each change
}

// reloadTriggers are every way of reloading: the directory watcher
// (inotify, the default), and SIGHUP with the watcher off.
var reloadTriggers = []reloadVia{
	{name: "inotify"},
	{name: "sighup", args: []string{"-watch", "off"}, sighup: true},
}

// forEachTrigger runs f as a parallel subtest for each reload trigger,
// with taskmasterd as PID 1.
func forEachTrigger(t *testing.T, f func(t *testing.T, r reloadVia)) {
	for _, r := range reloadTriggers {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			f(t, r)
		})
	}
}

// changed tells d that its job files changed, when the trigger needs
// telling.
func (r reloadVia) changed(d *daemon) {
	d.t.Helper()
	if r.sighup {
		d.signal(syscall.SIGHUP)
	}
}

// parseEnv parses the output of env(1) into a map.
func parseEnv(out string) map[string]string {
	vars := map[string]string{}
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vars[k] = v
		}
	}
	return vars
}

// countConsoleLines counts the lines of buf equal to line.
func countConsoleLines(buf *syncBuffer, line string) int {
	n := 0
	for _, l := range strings.Split(buf.String(), "\n") {
		if l == line {
			n++
		}
	}
	return n
}
