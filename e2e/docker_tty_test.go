package e2e

import (
	"fmt"
	"testing"
	"time"

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
	script := `trap 'echo "got INT"; exit 42' INT; trap 'echo winch' WINCH; echo ready; ` +
		`while :; do if read line; then echo "read: $line"; stty size 2>&1; fi; done`
	_, code := tm.run("docker", "run", "-it", "--name", name, "--label", e.label, e.test, "--", "sh", "-c", script)
	tm.expect("ready\r\n")
	awaitContainerSize(tm, 24, 80)
	tm.typeKeys("hello, world\r")
	tm.expect("read: hello, world\r\n")
	resizeContainer(tm, 40, 100)
	tm.typeKeys("\x03")
	tm.expect("got INT\r\n")
	require.Equal(t, 42, tm.awaitCode(code))
	require.Equal(t, "42", docker(t, "inspect", "-f", "{{.State.ExitCode}}", name))
}

// awaitContainerSize waits until the container's terminal has the size
// its window had when docker run started. docker creates the terminal at
// 0x0 and sets its size once the container runs: a failed run showed
// CMD's first "stty size" fail on the empty size (ERANGE) and the SIGWINCH
// of docker's resize come after it.
func awaitContainerSize(tm *terminal, rows, cols uint16) {
	tm.t.Helper()
	awaitSize(tm, rows, cols, false)
}

// resizeContainer resizes the window and waits until the container's
// terminal has that size and CMD has had a SIGWINCH. docker's client
// forwards each size to the daemon, which sets it on the container's
// terminal late on a busy machine: a failed run showed every SIGWINCH
// followed by the size of the resize before it. docker's client also
// sends the window's size once when it starts, and that request can land
// after the resize: when the size has not changed for a while, the window
// grows one row taller, so that docker's client sends the size once more
// and the newest one wins.
func resizeContainer(tm *terminal, rows, cols uint16) {
	tm.t.Helper()
	tm.resize(rows, cols)
	awaitSize(tm, rows, cols, true)
}

// awaitSize asks for the size of the container's terminal (Enter makes
// CMD print it) until it is rows x cols, up to a deadline. resized says
// that the test resized the window: a SIGWINCH must then have come too,
// and a size that stays the same for a while makes the window one row
// taller (see resizeContainer).
func awaitSize(tm *terminal, rows, cols uint16, resized bool) {
	tm.t.Helper()
	changed, winched := time.Now(), false
	var sizes []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		tm.typeKeys("\r")
		size, w := tm.sizeAfterEnter()
		winched = winched || w
		if (winched || !resized) && size == fmt.Sprintf("%d %d", rows, cols) {
			return
		}
		if len(sizes) == 0 || sizes[len(sizes)-1] != size {
			sizes, changed = append(sizes, size), time.Now()
		}
		if resized && time.Since(changed) > 3*time.Second {
			rows++
			tm.resize(rows, cols)
			changed = time.Now()
		}
		time.Sleep(50 * time.Millisecond) // the size has no event of its own but SIGWINCH, which may have come already
	}
	tm.t.Fatalf("the container's terminal never took the window's size %d %d (SIGWINCH seen: %v); its sizes were %q",
		rows, cols, winched, sizes)
}

// sizeAfterEnter reads the lines CMD prints after an Enter up to its
// size, and says whether one of them was the SIGWINCH trap's.
func (tm *terminal) sizeAfterEnter() (size string, winched bool) {
	tm.t.Helper()
	for line := tm.nextLine(); line != "read: "; line = tm.nextLine() {
		winched = winched || line == "winch"
	}
	for size = tm.nextLine(); size == "winch"; size = tm.nextLine() { // a trap ran before stty
		winched = true
	}
	return size, winched
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
