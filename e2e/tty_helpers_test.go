package e2e

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// terminal is a pseudo-terminal the test drives as a person would: what
// is typed on its keyboard, what shows on its screen, its window size.
type terminal struct {
	t      *testing.T
	ptmx   *os.File // the keyboard and the screen
	tty    *os.File // what programs on the terminal get
	screen *syncBuffer
	seen   int // how much of the screen expect has gone past
}

func newTerminal(t *testing.T, rows, cols uint16) *terminal {
	t.Helper()
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: rows, Cols: cols}))
	tm := &terminal{t: t, ptmx: ptmx, tty: tty, screen: &syncBuffer{}}
	copied := make(chan struct{})
	go func() {
		_, _ = io.Copy(tm.screen, ptmx) // ends when the pty is closed
		close(copied)
	}()
	t.Cleanup(func() {
		tty.Close()
		ptmx.Close()
		<-copied
		if t.Failed() {
			t.Logf("terminal screen:\n%q", tm.screen.String())
		}
	})
	return tm
}

// command returns argv to run on the terminal as a login shell's command
// would: its stdin, stdout and stderr, its controlling terminal, in its
// foreground (the leader of a session of its own).
func (tm *terminal) command(argv ...string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tm.tty, tm.tty, tm.tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.Env = append(os.Environ(), "PATH=/usr/bin:/bin")
	return cmd
}

// run starts argv on the terminal and returns a channel that gets its
// exit code.
func (tm *terminal) run(argv ...string) (*exec.Cmd, <-chan int) {
	tm.t.Helper()
	cmd := tm.command(argv...)
	require.NoError(tm.t, cmd.Start())
	code := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		code <- exitCodeOf(err, cmd.ProcessState)
	}()
	tm.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
		}
	})
	return cmd, code
}

func (tm *terminal) typeKeys(keys string) {
	tm.t.Helper()
	_, err := tm.ptmx.WriteString(keys)
	require.NoError(tm.t, err)
}

// expect waits until the screen shows s after what the last expect saw,
// and moves past it.
func (tm *terminal) expect(s string) {
	tm.t.Helper()
	var rest string
	eventually(tm.t, 15*time.Second, func() bool {
		rest = tm.screen.String()[tm.seen:]
		if i := strings.Index(rest, s); i >= 0 {
			tm.seen += i + len(s)
			return true
		}
		return false
	}, "the terminal never showed %q; after the last match it shows:\n%q", s, rest)
}

// nextLine waits for the next whole line on the screen after what the
// last expect saw, returns it without its "\r\n", and moves past it.
func (tm *terminal) nextLine() string {
	tm.t.Helper()
	var line, rest string
	eventually(tm.t, 15*time.Second, func() bool {
		rest = tm.screen.String()[tm.seen:]
		i := strings.Index(rest, "\r\n")
		if i < 0 {
			return false
		}
		line, tm.seen = rest[:i], tm.seen+i+2
		return true
	}, "the terminal never ended a line; after the last match it shows:\n%q", rest)
	return line
}

// resize changes the window's size, as dragging its corner does: the
// foreground process group gets SIGWINCH.
func (tm *terminal) resize(rows, cols uint16) {
	tm.t.Helper()
	require.NoError(tm.t, pty.Setsize(tm.ptmx, &pty.Winsize{Rows: rows, Cols: cols}))
}

// mode returns the terminal's mode.
func (tm *terminal) mode() unix.Termios {
	tm.t.Helper()
	tio, err := unix.IoctlGetTermios(int(tm.ptmx.Fd()), unix.TCGETS)
	require.NoError(tm.t, err)
	return *tio
}

// awaitRaw waits until the program on the terminal (taskmasterctl
// attach) has put it in raw mode: keys typed before that would be the
// terminal's to interpret (Ctrl-Q is flow control, Ctrl-C a signal).
func (tm *terminal) awaitRaw() {
	tm.t.Helper()
	eventually(tm.t, 10*time.Second, func() bool {
		return tm.mode().Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) == 0
	}, "the terminal never went raw")
}

// awaitCode waits for a process on the terminal to exit.
func (tm *terminal) awaitCode(code <-chan int) int {
	tm.t.Helper()
	select {
	case c := <-code:
		return c
	case <-time.After(15 * time.Second):
		tm.t.Fatalf("the program on the terminal did not end; screen:\n%q", tm.screen.String())
		return -1
	}
}

// terminalOf opens the terminal a process has as stdin (a job's own
// pseudo-terminal), without making it the test's controlling terminal.
func terminalOf(t *testing.T, pid int) *os.File {
	t.Helper()
	path, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/0", pid))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(path, "/dev/pts/"), "fd 0 of %d is %s", pid, path)
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { f.Close() })
	return f
}

// windowOf returns a terminal's size as rows and columns.
func windowOf(t *testing.T, f *os.File) [2]uint16 {
	t.Helper()
	ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ)
	require.NoError(t, err)
	return [2]uint16{ws.Row, ws.Col}
}

// procStatOf reads the process group, session, controlling terminal and
// its foreground process group of pid, from /proc/PID/stat.
func procStatOf(t *testing.T, pid int) (pgrp, session, ttyNr, tpgid int) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("process %d is gone", pid)
	}
	require.NoError(t, err)
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	_, err = fmt.Sscan(strings.Join(fields[2:6], " "), &pgrp, &session, &ttyNr, &tpgid)
	require.NoError(t, err)
	return pgrp, session, ttyNr, tpgid
}
