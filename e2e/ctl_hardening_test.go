package e2e

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Control commands against the real binaries where a review found them
// wrong: health with job files taskmasterd cannot use, repair with nothing
// to repair as the original client sends it, and job files that are
// symbolic links (docs/protocol.md, Job names).

// unhealthyLine is the line health prints for a job, from its status.
func unhealthyLine(name string, st jobStatus, why string) string {
	return "taskmasterctl: " + name + ": unhealthy (" + st.State + "): " + why +
		strings.ReplaceAll(strings.TrimSpace(st.Error), "\n", "; ") + "\n"
}

// health fails while any job file cannot be used: two INVALID files (which
// have no autostart), then a running job whose file was edited into an
// invalid one, and passes once they are gone or fixed.
func TestCtlHealthWithInvalidJobFiles(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, args: []string{"-watch", "off"}, jobs: map[string]string{
		"web":    sleeper(),
		"manual": sleeper("autostart", false),
		"typo":   "{\n  \"cmdd\": \"/bin/sleep 1000\"\n}\n",
		"comma":  "{\n  \"cmd\": \"/bin/sleep 1000\"\n  \"numprocs\": 2\n}\n",
	}})
	d.awaitStates("web", 10*time.Second, "RUNNING")
	all := d.status()
	require.Equal(t, "INVALID", all["typo"].State)
	require.Equal(t, "INVALID", all["comma"].State)
	out, errOut := d.ctlExit(1, "health")
	require.Empty(t, out)
	require.Equal(t, unhealthyLine("comma", all["comma"], "")+unhealthyLine("typo", all["typo"], ""), errOut)
	out, _ = d.ctlExit(1, "-json", "health")
	require.JSONEq(t, `{"healthy":false,"unhealthy":["comma","typo"]}`, out)

	require.Equal(t, "comma: deleted\n", d.ctlOK("delete", "comma"))
	require.Equal(t, "typo: deleted\n", d.ctlOK("delete", "typo"))
	require.Equal(t, "healthy: 1 autostart job\n", d.ctlOK("health"))

	// The last good version of web runs on; its file on disk is broken.
	pids := d.hostPidsOf("web")
	d.writeJob("web", `{"cmd": "/bin/sleep 1000", "numprocs": -1}`)
	_, errOut = d.ctlExit(1, "reload", "web")
	require.Contains(t, errOut, "numprocs")
	st := d.status()["web"]
	require.Equal(t, "RUNNING", st.State)
	require.True(t, st.Healthy, "the processes are fine")
	require.Contains(t, st.Error, "numprocs")
	require.Equal(t, pids, d.hostPidsOf("web"))
	out, errOut = d.ctlExit(1, "health")
	require.Empty(t, out)
	require.Equal(t, unhealthyLine("web", st, "job file not in use: "), errOut)

	d.writeJob("web", sleeper())
	require.Equal(t, "web: reloaded\n", d.ctlOK("reload", "web"))
	require.Equal(t, "healthy: 1 autostart job\n", d.ctlOK("health"))
}

// repair of a job with nothing to repair answers success, byte for byte,
// to the original taskmasterctl's request, and touches nothing.
func TestCtlRepairNothingToRepair(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{"web": sleeper()}})
	d.awaitStates("web", 10*time.Second, "RUNNING")
	pids := d.hostPidsOf("web")

	c, err := net.Dial("tcp", d.addr)
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(30*time.Second)))
	_, err = c.Write([]byte(`{"cmd":"repair","job":"d2Vi","data":""};;`))
	require.NoError(t, err)
	// The reply ends with ";;" (the connection's deadline bounds the reads).
	br, reply := bufio.NewReader(c), ""
	for !strings.HasSuffix(reply, ";;") {
		part, err := br.ReadString(';')
		require.NoError(t, err, "read so far: %q", reply)
		reply += part
	}
	require.Equal(t, `{"response":"success"};;`, reply)

	require.Equal(t, "web: repaired\n", d.ctlOK("repair", "web"))
	require.Equal(t, pids, d.hostPidsOf("web"), "repair touched a healthy job")
}

// A ConfigMap-style job directory loads and pulls; a link out of the
// directory is not served, push replaces no link, delete removes the link
// only, and pull of a dangling link says what status says.
func TestCtlSymlinkedJobFiles(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, args: []string{"-watch", "off"}})
	body := sleeper()
	stamp := "..2026_12_04_10_00_00.123"
	require.NoError(t, os.Mkdir(filepath.Join(d.jobs, stamp), 0o755))
	writeFile(t, filepath.Join(d.jobs, stamp, "web.tm.json"), body)
	require.NoError(t, os.Symlink(stamp, filepath.Join(d.jobs, "..data")))
	link := func(name, target string) string {
		path := filepath.Join(d.jobs, name+".tm.json")
		require.NoError(t, os.Symlink(target, path))
		return path
	}
	web := link("web", "..data/web.tm.json")
	secret := filepath.Join(t.TempDir(), "secret")
	writeFile(t, secret, "root:x:0:0:root:/root:/bin/sh\n")
	evil := link("evil", secret)
	gone := link("gone", filepath.Join(d.jobs, "nowhere.tm.json"))

	require.Equal(t, "all: reloaded every job file\n", d.ctlOK("restart"))
	d.awaitStates("web", 10*time.Second, "RUNNING")
	require.Equal(t, body, d.ctlOK("pull", "web"))

	realJobs, err := filepath.EvalSymlinks(d.jobs)
	require.NoError(t, err)
	out, errOut := d.ctlExit(1, "pull", "evil")
	require.Empty(t, out)
	require.Equal(t, "taskmasterctl: evil: pull evil: "+evil+" is a symbolic link to "+secret+
		", outside the jobs directory "+realJobs+": the control port reaches only files inside it\n", errOut)

	st := d.status()["gone"]
	require.Equal(t, "INVALID", st.State)
	require.Equal(t, gone+": is a dangling symbolic link (to "+filepath.Join(d.jobs, "nowhere.tm.json")+
		"): there is no file where it leads", st.Error)
	_, errOut = d.ctlExit(1, "pull", "gone")
	require.Equal(t, "taskmasterctl: gone: "+st.Error+"\n", errOut)

	local := filepath.Join(t.TempDir(), "web.tm.json")
	writeFile(t, local, sleeper("numprocs", 2))
	_, errOut = d.ctlExit(1, "push", local)
	require.Contains(t, errOut, "taskmasterctl: web: push web: "+web+" is a symbolic link to ..data/web.tm.json: ")
	target, err := os.Readlink(web)
	require.NoError(t, err, "push replaced the link")
	require.Equal(t, "..data/web.tm.json", target)
	require.Equal(t, []string{"RUNNING"}, d.states("web"))

	require.Equal(t, "evil: deleted\n", d.ctlOK("delete", "evil"))
	_, err = os.Lstat(evil)
	require.ErrorIs(t, err, os.ErrNotExist)
	data, err := os.ReadFile(secret)
	require.NoError(t, err)
	require.Equal(t, "root:x:0:0:root:/root:/bin/sh\n", string(data))
}
