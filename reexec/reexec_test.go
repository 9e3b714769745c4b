package reexec

import (
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	Main() // the test binary doubles as the helper, as taskmasterd does
	os.Exit(m.Run())
}

// runWrapped starts argv under umask through the helper and returns what it
// printed and its exit code.
func runWrapped(t *testing.T, umask int, argv ...string) (string, int) {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	path, args := Wrap(umask, argv[0], argv)
	pid, err := syscall.ForkExec(path, args, &syscall.ProcAttr{
		Env:   []string{"PATH=/usr/bin:/bin"},
		Files: []uintptr{0, w.Fd(), w.Fd()},
	})
	w.Close()
	require.NoError(t, err)
	out := new(strings.Builder)
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			break
		}
	}
	var ws syscall.WaitStatus
	_, err = syscall.Wait4(pid, &ws, 0, nil)
	require.NoError(t, err)
	return out.String(), ws.ExitStatus()
}

func TestHelperSetsUmaskAndKeepsPid(t *testing.T) {
	before := syscall.Umask(0o022)
	syscall.Umask(before)
	out, code := runWrapped(t, 0o027, "/bin/sh", "-c", "umask")
	require.Equal(t, 0, code)
	require.Equal(t, "0027\n", out)
	after := syscall.Umask(before)
	require.Equal(t, before, after, "the daemon's own umask changed")
}

func TestHelperKeepsThePid(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	path, args := Wrap(0o077, "/bin/sh", []string{"sh", "-c", "echo $$"})
	pid, err := syscall.ForkExec(path, args, &syscall.ProcAttr{Files: []uintptr{0, w.Fd(), 2}})
	w.Close()
	require.NoError(t, err)
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	var ws syscall.WaitStatus
	_, err = syscall.Wait4(pid, &ws, 0, nil)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(pid), strings.TrimSpace(string(buf[:n])))
}

func TestHelperReportsExecFailureLikeAShell(t *testing.T) {
	out, code := runWrapped(t, 0o022, "/nonexistent/prog", "prog")
	require.Equal(t, 127, code)
	require.Contains(t, out, "/nonexistent/prog")
	dir := t.TempDir()
	noexec := dir + "/script"
	require.NoError(t, os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644))
	_, code = runWrapped(t, 0o022, noexec, "script")
	require.Equal(t, 126, code)
}
