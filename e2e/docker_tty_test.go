package e2e

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// docker run -it IMAGE -- CMD behaves like tini on the terminal docker
// gives the container: CMD's group owns it (Ctrl-C is CMD's), its size is
// the window's and follows it, taskmasterd reads none of the input, and the
// container's exit code is CMD's.
func testDockerSingleCommandOnATerminal(t *testing.T, e *dockerEnv) {
	tm := newTerminal(t, 24, 80)
	name := e.uniqueName(t)
	t.Cleanup(func() { dockerQuiet(t, "rm", "-fv", name) })
	script := `trap 'echo "got INT"; exit 42' INT; trap 'echo winch' WINCH; stty size; echo ready; ` +
		`while :; do if read line; then echo "read: $line"; stty size; fi; done`
	_, code := tm.run("docker", "run", "-it", "--name", name, "--label", e.label, e.test, "--", "sh", "-c", script)
	tm.expect("24 80\r\n")
	tm.expect("ready\r\n")
	tm.typeKeys("hello, world\r")
	tm.expect("read: hello, world\r\n")
	resizeContainer(tm, 40, 100)
	tm.typeKeys("\x03")
	tm.expect("got INT\r\n")
	require.Equal(t, 42, tm.awaitCode(code))
	require.Equal(t, "42", docker(t, "inspect", "-f", "{{.State.ExitCode}}", name))
}

// resizeContainer resizes the window and waits until docker has given
// the container's terminal that size: after each SIGWINCH CMD reports,
// Enter makes it print its size. docker's client also sends the window's
// size when it starts, and on a busy machine that request can reach the
// daemon after the one of the resize (a failed run showed a SIGWINCH after
// which the size was still 24 80): each new try is one row taller, so that
// docker's client sends the size once more and the newest one wins.
func resizeContainer(tm *terminal, rows, cols uint16) {
	tm.t.Helper()
	var sizes []string
	for try := range uint16(5) {
		want := fmt.Sprintf("%d %d", rows+try, cols)
		tm.resize(rows+try, cols)
		tm.expect("winch\r\n") // docker resized the container's terminal: SIGWINCH reached CMD
		tm.typeKeys("\r")
		tm.expect("read: \r\n")
		size := tm.nextLine()
		for size == "winch" { // a later SIGWINCH's trap ran before stty
			size = tm.nextLine()
		}
		if size == want {
			return
		}
		sizes = append(sizes, size)
	}
	tm.t.Fatalf("the container's terminal never took the window's size; after each try it was %q", sizes)
}

// composeAttach attaches to web's console job (a shell on a terminal of
// its own) as README shows: through docker compose exec, detaching with
// taskmasterctl's keys (Docker's client keeps Ctrl-P Ctrl-Q for itself),
// then from the host through the published control port with the token,
// where the shell is found as it was left.
func composeAttach(t *testing.T, compose []string, env []string, ctlAddr, token string) {
	tm := newTerminal(t, 24, 80)
	cmd := tm.command(append(compose, "exec", "web", "taskmasterctl", "attach", "-detach-keys", "ctrl-a,d", "console")...)
	cmd.Env = append(cmd.Env, env...)
	require.NoError(t, cmd.Start())
	code := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		code <- exitCodeOf(err, cmd.ProcessState)
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	tm.awaitRaw() // docker's client makes the terminal raw, then taskmasterctl the container's
	tm.typeKeys("X=kept; echo hi from compose\r")
	tm.expect("\r\nhi from compose\r\n")
	tm.typeKeys("\x01d")
	require.Equal(t, 0, tm.awaitCode(code), "docker compose exec ... attach")
	tm.expect("detached from console:0")

	host := newTerminal(t, 30, 100)
	_, hostCode := host.run(bin.taskmasterctl, "-addr", ctlAddr, "-token", token, "attach", "console")
	host.awaitRaw()
	host.typeKeys("echo X is $X; stty size\r")
	host.expect("X is kept\r\n")
	host.expect("30 100\r\n")
	host.typeKeys("\x10\x11")
	require.Equal(t, 0, host.awaitCode(hostCode), "attach through the published port")
}
