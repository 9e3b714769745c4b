package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMain lets the tests run this package's main in a child process: the
// test binary itself, with TASKMASTERCTL_RUN_MAIN set.
func TestMain(m *testing.M) {
	if os.Getenv("TASKMASTERCTL_RUN_MAIN") == "1" {
		os.Args = append([]string{"taskmasterctl"}, os.Args[1:]...)
		main()
		return
	}
	os.Exit(m.Run())
}

// taskmasterctl runs main with args and stdin from /dev/null.
func taskmasterctl(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), "TASKMASTERCTL_RUN_MAIN=1"), env...)
	var out, errw bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errw
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), errw.String(), exit.ExitCode()
	}
	require.NoError(t, err)
	return out.String(), errw.String(), 0
}

func TestExitCodes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	_, stderr, code := taskmasterctl(t, []string{"TASKMASTER_ADDR=" + addr}, "status")
	require.Equal(t, 3, code)
	require.Equal(t, "taskmasterctl: cannot connect to taskmasterd at "+addr+": connection refused\n", stderr)

	_, stderr, code = taskmasterctl(t, nil)
	require.Equal(t, 2, code, "no command and stdin not a terminal")
	require.True(t, strings.HasPrefix(stderr, "taskmasterctl: no command given\nusage: "), stderr)

	stdout, _, code := taskmasterctl(t, nil, "version")
	require.Equal(t, 0, code)
	require.Equal(t, "taskmasterctl dev\n", stdout)
}
