package e2e

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// push, pull, delete and reload: job files travel byte for byte, invalid
// ones change nothing.
func TestCtlPushPullDelete(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{"web": sleeper()}})
	local := t.TempDir()
	// Odd spacing and a trailing newline: the bytes must travel unchanged.
	body := "{\n  \"cmd\": [\"/bin/sleep\", \"1000\"],\t\"numprocs\": 2,\n  \"starttime\": 0, \"stoptime\": 2\n}\n"
	file := filepath.Join(local, "api.tm.json")
	writeFile(t, file, body)

	require.Equal(t, "api: pushed\n", d.ctlOK("push", file))
	onDisk, err := os.ReadFile(filepath.Join(d.jobs, "api.tm.json"))
	require.NoError(t, err)
	require.Equal(t, body, string(onDisk))
	require.Equal(t, "api\nweb\n", d.ctlOK("list"))
	d.awaitStates("api", 10*time.Second, "RUNNING", "RUNNING")
	pids := d.hostPidsOf("api")

	require.Equal(t, body, d.ctlOK("pull", "api"))
	out := filepath.Join(local, "copy.json")
	require.Equal(t, "api: pulled to "+out+"\n", d.ctlOK("pull", "api", out))
	copied, err := os.ReadFile(out)
	require.NoError(t, err)
	require.Equal(t, body, string(copied))
	_, errOut := d.ctlExit(1, "pull", "nope")
	require.Contains(t, errOut, "taskmasterctl: nope: ")

	// push FILE JOB: any file name.
	other := filepath.Join(local, "other.json")
	writeFile(t, other, sleeper("autostart", false))
	require.Equal(t, "manual: pushed\n", d.ctlOK("push", other, "manual"))
	require.Equal(t, sleeper("autostart", false), d.ctlOK("pull", "manual"))

	// An invalid file: exit 1, the validation error, nothing written.
	bad := filepath.Join(local, "bad.tm.json")
	writeFile(t, bad, `{"cmd": "/bin/sleep 1000", "numprocs": -1}`)
	stdout, errOut := d.ctlExit(1, "push", bad)
	require.Empty(t, stdout)
	require.Contains(t, errOut, "taskmasterctl: bad: ")
	require.Contains(t, errOut, "numprocs")
	require.NoFileExists(t, filepath.Join(d.jobs, "bad.tm.json"))
	require.Equal(t, "api\nmanual\nweb\n", d.ctlOK("list"))
	// An invalid version of an existing job leaves it alone.
	writeFile(t, file, `{"cmd": "/bin/sleep 1000", "nosuchkey": 1}`)
	_, errOut = d.ctlExit(1, "push", file)
	require.Contains(t, errOut, "nosuchkey")
	require.Equal(t, body, d.ctlOK("pull", "api"))
	require.Equal(t, pids, d.hostPidsOf("api"), "a refused push touched the running job")
	// A name the daemon refuses.
	_, errOut = d.ctlExit(1, "push", other, "../evil")
	require.Contains(t, errOut, "taskmasterctl: ../evil: ")
	require.NoFileExists(t, filepath.Join(filepath.Dir(d.jobs), "evil.tm.json"))
	// A file that cannot be read is a local failure.
	_, errOut = d.ctlExit(1, "push", filepath.Join(local, "missing.tm.json"))
	require.Contains(t, errOut, "taskmasterctl: missing: ")

	require.Equal(t, "api: deleted\n", d.ctlOK("delete", "api"))
	requireGone(t, pids, "delete returned")
	require.NoFileExists(t, filepath.Join(d.jobs, "api.tm.json"))
	eventually(t, 5*time.Second, func() bool { _, ok := d.status()["api"]; return !ok }, "status still lists api")
	require.Equal(t, "manual\nweb\n", d.ctlOK("list"))
	_, errOut = d.ctlExit(1, "delete", "api")
	require.Contains(t, errOut, "taskmasterctl: api: ")
}

// reload JOB applies an edited job file (with -watch off, only reload
// does), and keeps the last good version when the edit is invalid.
func TestCtlReloadJob(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, args: []string{"-watch", "off"}, jobs: map[string]string{
		"web":   sleeper(),
		"other": sleeper(),
	}})
	d.awaitStates("web", 10*time.Second, "RUNNING")
	first := d.hostPidsOf("web")
	other := d.hostPidsOf("other")

	d.writeJob("web", sleeper("numprocs", 2))
	require.Equal(t, []string{"RUNNING"}, d.states("web"), "-watch off noticed the edit")
	require.Equal(t, "web: reloaded\n", d.ctlOK("reload", "web"))
	d.awaitStates("web", 10*time.Second, "RUNNING", "RUNNING")
	require.Equal(t, first[0], d.hostPidsOf("web")[0], "numprocs alone changed: web:0 must keep running")
	require.Equal(t, other, d.hostPidsOf("other"), "reload web touched another job")

	// A changed command restarts the job.
	d.writeJob("web", jobFile("cmd", []string{"/bin/sleep", "999"}, "starttime", 0, "stoptime", 2))
	running := d.hostPidsOf("web")
	require.Equal(t, "web: reloaded\n", d.ctlOK("reload", "web"))
	requireGone(t, running, "the old command after reload")
	d.awaitStates("web", 10*time.Second, "RUNNING")

	// An invalid edit: exit 1 with the error, the last good version runs on.
	running = d.hostPidsOf("web")
	d.writeJob("web", `{"cmd": "/bin/sleep 1000", "stoptime": "soon"}`)
	_, errOut := d.ctlExit(1, "reload", "web")
	require.Contains(t, errOut, "taskmasterctl: web: ")
	require.Contains(t, errOut, "stoptime")
	require.Equal(t, running, d.hostPidsOf("web"))
	require.Contains(t, d.status()["web"].Error, "stoptime")

	_, errOut = d.ctlExit(1, "reload", "nope")
	require.Contains(t, errOut, "taskmasterctl: nope: ")
}

// docs/jobs.md (The job directory): a file that is not a valid job file "is
// reported and not run; it never keeps the other jobs from loading", and
// LoadDir documents "not a regular file" as one. A FIFO named like a job
// file must not hang the reloads.
func TestCtlRestartWithAFIFOInTheJobsDirectory(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, args: []string{"-watch", "off"}, jobs: map[string]string{"web": sleeper()}})
	fifo := filepath.Join(d.jobs, "pipe.tm.json")
	require.NoError(t, syscall.Mkfifo(fifo, 0o644))
	t.Cleanup(func() { releaseFIFO(fifo) })

	out, errOut, code := d.ctl("-timeout", "5s", "restart")
	require.Equal(t, 0, code, "restart with a FIFO in the jobs directory: stdout %q, stderr %q", out, errOut)
	require.Equal(t, "all: reloaded every job file\n", out)
	st := d.status()["pipe"]
	require.Equal(t, "INVALID", st.State)
	require.Contains(t, st.Error, "not a regular file")
	other := filepath.Join(t.TempDir(), "api.tm.json")
	writeFile(t, other, sleeper())
	out, errOut, code = d.ctl("-timeout", "5s", "push", other)
	require.Equal(t, 0, code, "push with a FIFO in the jobs directory: stdout %q, stderr %q", out, errOut)
}

// releaseFIFO takes a FIFO out of the jobs directory and lets every reader
// blocked opening it go on.
func releaseFIFO(path string) {
	parked := path + ".released"
	if os.Rename(path, parked) != nil {
		return
	}
	defer os.Remove(parked)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		// Without a reader waiting, a non-blocking open for writing fails.
		fd, err := syscall.Open(parked, syscall.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return
		}
		syscall.Close(fd)
	}
}
