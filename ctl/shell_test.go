package ctl

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// screen collects what the shell draws on the pty.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// shellSession is Main running the interactive shell on a pty, as a person
// at a terminal would use it.
type shellSession struct {
	t      *testing.T
	ptmx   *os.File // the keyboard and the screen
	screen *screen
	code   chan int
}

// startShell runs Main with no command and the pty's terminal side as its
// standard streams, in a goroutine.
func startShell(t *testing.T, addr, home string) *shellSession {
	t.Helper()
	ptmx, tty, err := pty.Open()
	require.NoError(t, err)
	require.NoError(t, pty.Setsize(ptmx, &pty.Winsize{Rows: 50, Cols: 200}))
	sh := &shellSession{t: t, ptmx: ptmx, screen: &screen{}, code: make(chan int, 1)}
	copied := make(chan struct{})
	go func() {
		io.Copy(sh.screen, ptmx) // ends when the pty is closed
		close(copied)
	}()
	vars := map[string]string{"TASKMASTER_ADDR": addr, "HOME": home, "NO_COLOR": "1"}
	env := Env{Stdin: tty, Stdout: tty, Stderr: tty, Getenv: func(k string) string { return vars[k] },
		Now: func() time.Time { return testNow }}
	go func() { sh.code <- Main(nil, env) }()
	t.Cleanup(func() {
		tty.Close()
		ptmx.Close()
		<-copied
	})
	return sh
}

func (sh *shellSession) typeKeys(keys string) {
	_, err := sh.ptmx.Write([]byte(keys))
	require.NoError(sh.t, err)
}

// waitFor waits until the screen shows s at least n times.
func (sh *shellSession) waitFor(s string, n int) {
	sh.t.Helper()
	require.Eventually(sh.t, func() bool { return strings.Count(sh.screen.String(), s) >= n },
		10*time.Second, 5*time.Millisecond, "waiting for %d× %q; screen so far:\n%q", n, s, sh.screen)
}

func (sh *shellSession) exit() int {
	sh.typeKeys("exit\r")
	select {
	case code := <-sh.code:
		return code
	case <-time.After(10 * time.Second):
		sh.t.Fatalf("the shell did not end; screen:\n%q", sh.screen)
		return -1
	}
}

// shellDaemon knows the jobs web and worker.
func shellDaemon(t *testing.T) *fakeDaemon {
	return startDaemon(t, func(r *ctlproto.Request) *ctlproto.Response {
		switch r.Command {
		case ctlproto.CmdList:
			return ctlproto.List(ctlproto.EncodeJobList([]string{"web", "worker"}))
		case ctlproto.CmdStatus:
			return ctlproto.Status([]byte(statusAll))
		}
		return ctlproto.Success()
	})
}

func TestShell(t *testing.T) {
	d := shellDaemon(t)
	home := t.TempDir()
	sh := startShell(t, d.addr, home)
	sh.waitFor(prompt, 1)

	sh.typeKeys("sta\t") // completes a command name
	sh.waitFor("status", 1)
	sh.typeKeys("\r")
	sh.waitFor("worker:0  FATAL", 1) // the status table, as on the command line
	sh.waitFor(prompt, 2)

	sh.typeKeys("start wo\t") // completes a job name
	sh.waitFor("start worker", 1)
	sh.typeKeys("\r")
	sh.waitFor("worker: started", 1)
	sh.waitFor(prompt, 3)

	sh.typeKeys("\x1b[A") // up: the previous line
	sh.waitFor("start worker", 2)
	sh.typeKeys("\r")
	sh.waitFor("worker: started", 2)
	sh.waitFor(prompt, 4)

	sh.typeKeys("stop web\x03") // Ctrl-C abandons the line
	sh.typeKeys("list\r")
	sh.waitFor("worker\r\n", 2)
	sh.waitFor(prompt, 5)

	require.Equal(t, 0, sh.exit())
	require.Equal(t, []sent{req("status", "", ""), req("list", "", ""), req("start", "worker", ""),
		req("start", "worker", ""), req("list", "", "")}, d.requests())
	history, err := os.ReadFile(filepath.Join(home, historyFile))
	require.NoError(t, err)
	require.Equal(t, "status\nstart worker\nlist\n", string(history))
}

func TestShellHistoryAcrossRuns(t *testing.T) {
	d := shellDaemon(t)
	home := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(home, historyFile), []byte("status\nstop web:1\n"), 0o600))
	sh := startShell(t, d.addr, home)
	sh.waitFor(prompt, 1)
	sh.typeKeys("\x1b[A\r")
	sh.waitFor("web:1: stopped", 1)
	sh.waitFor(prompt, 2)
	require.Equal(t, 0, sh.exit())
	require.Equal(t, []sent{req("stop", "web:1", "")}, d.requests())
}

func TestShellSurvivesErrors(t *testing.T) {
	d := shellDaemon(t)
	sh := startShell(t, d.addr, t.TempDir())
	sh.waitFor(prompt, 1)

	down := closedAddr(t)
	sh.typeKeys("-addr " + down + " status\r")
	sh.waitFor("taskmasterctl: cannot connect to taskmasterd at "+down, 1)
	sh.waitFor(prompt, 2)

	sh.typeKeys("frob\r")
	sh.waitFor(`taskmasterctl: unknown command "frob"`, 1)
	sh.waitFor("type help for the list of commands", 1)
	sh.waitFor(prompt, 3)

	sh.typeKeys("start\r")
	sh.waitFor("usage: taskmasterctl start JOB...", 1)
	sh.waitFor(prompt, 4)

	sh.typeKeys("start web\r") // the next command connects again
	sh.waitFor("web: started", 1)
	sh.waitFor(prompt, 5)
	require.Equal(t, 0, sh.exit())
}

func TestShellCtrlD(t *testing.T) {
	sh := startShell(t, closedAddr(t), "")
	sh.waitFor(prompt, 1)
	sh.typeKeys("\x04")
	select {
	case code := <-sh.code:
		require.Equal(t, 0, code)
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-D did not end the shell")
	}
}

func TestNoCommandWithoutTerminal(t *testing.T) {
	got := runAt(closedAddr(t))
	require.Equal(t, ExitUsage, got.code)
	require.True(t, strings.HasPrefix(got.stderr, "taskmasterctl: no command given\nusage: "))
}
