package ctl

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

const jobFile = "{\n  \"cmd\": \"nginx -g 'daemon off;'\"\n}\n"

func writeTemp(t *testing.T, name, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	return path
}

func TestPushDerivesTheName(t *testing.T) {
	d := startDaemon(t, nil)
	path := writeTemp(t, "web.tm.json", jobFile)
	require.Equal(t, ran{"web: pushed\n", "", 0}, d.run("push", path))
	require.Equal(t, []sent{req("push", "web", jobFile)}, d.requests())
}

func TestPushExplicitName(t *testing.T) {
	d := startDaemon(t, nil)
	path := writeTemp(t, "whatever.json", jobFile)
	require.Equal(t, ran{`{"job":"api","response":"success"}` + "\n", "", 0}, d.run("-json", "push", path, "api"))
	require.Equal(t, []sent{req("push", "api", jobFile)}, d.requests())
}

func TestPushStdin(t *testing.T) {
	d := startDaemon(t, nil)
	env, out, _ := testEnv(map[string]string{"TASKMASTER_ADDR": d.addr})
	env.Stdin = bytes.NewBufferString(jobFile)
	require.Equal(t, 0, Main([]string{"push", "-", "web"}, env))
	require.Equal(t, "web: pushed\n", out.String())
	require.Equal(t, []sent{req("push", "web", jobFile)}, d.requests())
}

func TestPushNameCannotBeDerived(t *testing.T) {
	d := startDaemon(t, nil)
	for _, name := range []string{"web.json", ".web.tm.json", ".tm.json"} {
		got := d.run("push", writeTemp(t, name, jobFile))
		require.Equal(t, ExitUsage, got.code, name)
		require.Contains(t, got.stderr, "cannot tell the job name from", name)
		require.Contains(t, got.stderr, "usage: taskmasterctl push FILE [JOB]", name)
	}
	got := d.run("push", "-")
	require.Equal(t, ExitUsage, got.code)
	require.Contains(t, got.stderr, "push - (standard input) needs the job name")
	require.Empty(t, d.requests(), "nothing is sent")
}

func TestPushLocalErrors(t *testing.T) {
	d := startDaemon(t, nil)
	missing := filepath.Join(t.TempDir(), "web.tm.json")
	got := d.run("push", missing)
	require.Equal(t, ExitFail, got.code)
	require.Contains(t, got.stderr, "taskmasterctl: web: open "+missing)

	got = d.run("push", writeTemp(t, "web.tm.json", ""))
	require.Equal(t, ExitFail, got.code)
	require.Contains(t, got.stderr, "is empty")
	require.Empty(t, d.requests())
}

func TestPushRefused(t *testing.T) {
	d := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response { return ctlproto.Failf(`cmd is required`) })
	got := d.run("push", writeTemp(t, "web.tm.json", "{}"))
	require.Equal(t, ran{"", "taskmasterctl: web: cmd is required\n", ExitFail}, got)
}

func pullDaemon(t *testing.T) *fakeDaemon {
	return startDaemon(t, func(r *ctlproto.Request) *ctlproto.Response {
		if r.Job != "web" {
			return ctlproto.Failf("no such job: %q", r.Job)
		}
		return ctlproto.File("web", []byte(jobFile))
	})
}

func TestPullToStdout(t *testing.T) {
	d := pullDaemon(t)
	require.Equal(t, ran{jobFile, "", 0}, d.run("pull", "web"))
	require.Equal(t, []sent{req("pull", "web", "")}, d.requests())
}

func TestPullToFile(t *testing.T) {
	d := pullDaemon(t)
	path := writeTemp(t, "web.tm.json", "old contents")
	require.Equal(t, ran{"web: pulled to " + path + "\n", "", 0}, d.run("pull", "web", path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, jobFile, string(got))
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left behind")

	out := filepath.Join(t.TempDir(), "new.tm.json")
	require.Equal(t, ran{`{"job":"web","response":"file","file":"` + out + `"}` + "\n", "", 0}, d.run("-json", "pull", "web", out))
}

func TestPullFailLeavesTheFile(t *testing.T) {
	d := pullDaemon(t)
	path := writeTemp(t, "x.tm.json", "mine")
	require.Equal(t, ran{"", "taskmasterctl: nope: no such job: \"nope\"\n", ExitFail}, d.run("pull", "nope", path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "mine", string(got))
}

func TestPullUnwritable(t *testing.T) {
	d := pullDaemon(t)
	got := d.run("pull", "web", filepath.Join(t.TempDir(), "no", "such", "dir", "web.tm.json"))
	require.Equal(t, ExitFail, got.code)
	require.Contains(t, got.stderr, "taskmasterctl: web: ")
}
