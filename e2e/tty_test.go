package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// Jobs with a terminal ("tty": true), taskmasterctl attach, signal and
// shutdown, and single-command mode on a terminal (docs/jobs.md, tty;
// docs/taskmasterctl.md; docs/pid1.md).

// consoleJob is busybox's interactive shell on a terminal of its own,
// with a prompt the test can wait for, its output in log.
func consoleJob(log string) string {
	return `{"cmd":["/bin/busybox","sh","-i"],"tty":true,"starttime":0,"autorestart":false,` +
		`"env":{"PS1":"tm$ ","HOME":"/"},"stdout":"` + log + `"}`
}

// The whole attach story, on real terminals: type into the job's shell
// and see its answer; resize the window and see the shell's terminal
// follow; detach with Ctrl-P Ctrl-Q and find the job still RUNNING; attach
// again and find the shell as it was left; a second client sees the same
// and types into the same shell; when the shell exits, both end with its
// exit code.
func TestAttachToATerminalJob(t *testing.T) {
	log := filepath.Join(t.TempDir(), "console.log")
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{"console": consoleJob(log)}})
	d.awaitStates("console", 10*time.Second, "RUNNING")
	shell := d.hostPidOf("console:0")
	inner := terminalOf(t, shell)

	tm := newTerminal(t, 24, 80)
	before := tm.mode()
	_, code := tm.run(bin.taskmasterctl, "-addr", d.addr, "attach", "console")
	tm.awaitRaw()
	tm.typeKeys("echo hi\r")
	tm.expect("echo hi\r\nhi\r\n")
	tm.expect("tm$ ")
	require.Equal(t, [2]uint16{24, 80}, windowOf(t, inner), "the attach sent the window's size")

	tm.resize(40, 120)
	eventually(t, 10*time.Second, func() bool { return windowOf(t, inner) == [2]uint16{40, 120} },
		"the job's terminal did not follow the window: %v", windowOf(t, inner))
	tm.typeKeys("X=kept; stty size\r")
	tm.expect("\r\n40 120\r\n")

	tm.typeKeys("\x10\x11") // Ctrl-P Ctrl-Q
	require.Equal(t, 0, tm.awaitCode(code))
	tm.expect("detached from console:0")
	require.Equal(t, before, tm.mode(), "the terminal is as it was")
	require.Equal(t, "RUNNING", d.status()["console"].Processes[0].State)
	require.Equal(t, shell, d.hostPidOf("console:0"), "the same shell")

	_, code = tm.run(bin.taskmasterctl, "-addr", d.addr, "fg", "console:0")
	tm.awaitRaw()
	tm.typeKeys("echo X is $X\r")
	tm.expect("X is kept\r\n")

	other := newTerminal(t, 30, 100)
	_, otherCode := other.run(bin.taskmasterctl, "-addr", d.addr, "attach", "console")
	other.awaitRaw()
	eventually(t, 10*time.Second, func() bool { return windowOf(t, inner) == [2]uint16{30, 100} },
		"the second client's window was not sent")
	other.typeKeys("echo from two\r")
	other.expect("from two\r\n")
	tm.expect("from two\r\n") // both see the output
	tm.typeKeys("echo from one\r")
	other.expect("from one\r\n")

	// The test's own handle on the shell's terminal would keep it open
	// after the shell exits, as a leftover process would.
	require.NoError(t, inner.Close())
	tm.typeKeys("exit 3\r")
	require.Equal(t, 3, tm.awaitCode(code), "attach ends with the shell's exit code")
	require.Equal(t, 3, other.awaitCode(otherCode))
	require.Equal(t, before, tm.mode())
	d.awaitStates("console", 10*time.Second, "EXITED")

	// The output went where stdout says, and to tail, line by line.
	logged, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Contains(t, string(logged), "\r\nhi\r\n")
	require.Contains(t, string(logged), "X is kept\r\n")
	require.Contains(t, d.ctlOK("tail", "console"), "from one\r\n")
	_, stderr := d.ctlExit(1, "attach", "console")
	require.Equal(t, "taskmasterctl: console: console:0 is EXITED: no process to attach to\n", stderr)
}

// isattyJob tells, for each of its descriptors, whether it is a terminal,
// then waits.
func isattyJob(tty bool, log string) string {
	script := `for fd in 0 1 2; do if [ -t $fd ]; then echo "fd $fd: a terminal"; else echo "fd $fd: not a terminal"; fi; done; exec sleep 1000`
	return jobFile("cmd", []string{"/bin/sh", "-c", script}, "tty", tty, "starttime", 0, "stdout", log)
}

// A tty job's stdin, stdout and stderr are its terminal, a pipe job's are
// not; a tty job leads a session whose controlling terminal that is. Its
// output reaches tail and its stdout log file like a pipe job's.
func TestTerminalJobIsATerminal(t *testing.T) {
	dir := t.TempDir()
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"tty":  isattyJob(true, filepath.Join(dir, "tty.log")),
		"pipe": isattyJob(false, filepath.Join(dir, "pipe.log")),
	}})
	d.awaitStates("tty", 10*time.Second, "RUNNING")
	d.awaitStates("pipe", 10*time.Second, "RUNNING")
	terminal := "fd 0: a terminal\r\nfd 1: a terminal\r\nfd 2: a terminal\r\n"
	awaitFileIs(t, filepath.Join(dir, "tty.log"), terminal, 10*time.Second)
	eventually(t, 10*time.Second, func() bool { return d.ctlOK("tail", "tty") == terminal }, "tail tty: %q", d.ctlOK("tail", "tty"))
	piped := "fd 0: not a terminal\nfd 1: not a terminal\nfd 2: not a terminal\n"
	awaitFileIs(t, filepath.Join(dir, "pipe.log"), piped, 10*time.Second)
	eventually(t, 10*time.Second, func() bool { return strings.Contains(d.ctlOK("tail", "pipe"), piped) }, "tail pipe")

	pid := d.hostPidOf("tty:0")
	pgrp, session, ttyNr, tpgid := procStatOf(t, pid)
	require.Equal(t, []int{pid, pid, pid}, []int{pgrp, session, tpgid}, "its own session and group, in its terminal's foreground")
	require.NotZero(t, ttyNr, "a controlling terminal")
	_, _, ttyNr, _ = procStatOf(t, d.hostPidOf("pipe:0"))
	require.Zero(t, ttyNr, "a pipe job has no controlling terminal")
}

// A tty job with a user and a umask: the terminal is the user's, and the
// umask helper (which execs the program) keeps the terminal as it is.
func TestTerminalJobWithUserAndUmask(t *testing.T) {
	log := filepath.Join(worldWritableDir(t), "nobody.log") // opened as the job's user
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"nobody": jobFile("cmd", []string{"/bin/sh", "-c", `[ -t 0 ] && echo "a terminal, umask $(umask)"; exec sleep 1000`},
			"tty", true, "user", "65534", "umask", "027", "starttime", 0, "stdout", log),
	}})
	require.Equal(t, "a terminal, umask 0027\r\n", awaitFileContent(t, log, 10*time.Second))
	pid := d.hostPidOf("nobody:0")
	var st syscall.Stat_t
	require.NoError(t, syscall.Stat(fmt.Sprintf("/proc/%d/fd/0", pid), &st))
	require.Equal(t, uint32(65534), st.Uid, "the terminal belongs to the job's user")
	_, session, ttyNr, _ := procStatOf(t, pid)
	require.Equal(t, pid, session)
	require.NotZero(t, ttyNr)
}

// Restarting a tty job leaks nothing: each process's terminal is closed
// once it is done with, and a client's session with it. taskmasterd's
// descriptors are the same before and after 1,000 restarts (stop or kill,
// then start, as for any job) and 20 attaches.
func TestTerminalJobRestartsLeakNoDescriptors(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asSubreaper, jobs: map[string]string{
		"console": jobFile("cmd", []string{"/bin/sleep", "1000"}, "tty", true, "starttime", 0, "stoptime", 2, "stdout", "discard"),
	}})
	d.awaitStates("console", 10*time.Second, "RUNNING")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := ctlproto.Dial(ctx, d.addr, "")
	require.NoError(t, err)
	defer c.Close()
	restart := func(stop ctlproto.Command) {
		for _, cmd := range []ctlproto.Command{stop, ctlproto.CmdStart} {
			resp, err := c.Do(ctx, &ctlproto.Request{Command: cmd, Job: "console"})
			require.NoError(t, err)
			require.Equal(t, ctlproto.KindSuccess, resp.Kind, "%s: %s", cmd, resp.Error)
		}
	}
	restart(ctlproto.CmdStop)
	settled := func(want int) bool { return fdCount(t, d.pid) == want }
	baseline := fdCount(t, d.pid)
	for i := 1; i <= 1000; i++ {
		stop := ctlproto.CmdStop
		if i%10 == 0 {
			stop = ctlproto.CmdKill // SIGKILL to the group: the same end
		}
		restart(stop)
		if i%50 == 0 {
			attachAndDetach(t, d.addr)
		}
	}
	eventually(t, 10*time.Second, func() bool { return settled(baseline) },
		"taskmasterd had %d descriptors before 1000 restarts, %d after", baseline, fdCount(t, d.pid))
	require.Equal(t, "RUNNING", d.status()["console"].Processes[0].State)
}

// attachAndDetach attaches to console through the protocol, and detaches.
func attachAndDetach(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ctlproto.Dial(ctx, addr, "")
	require.NoError(t, err)
	defer c.Close()
	resp, st, err := c.Open(ctx, &ctlproto.Request{Command: ctlproto.CmdAttach, Job: "console"}, ctlproto.KindAttached)
	require.NoError(t, err)
	require.NotNil(t, st, "%+v", resp)
	require.NoError(t, st.Send(&ctlproto.Request{Command: ctlproto.CmdDetach}))
	for {
		resp, err := st.Recv()
		require.NoError(t, err)
		if resp.Kind == ctlproto.KindDetached {
			return
		}
	}
}

// taskmasterctl signal HUP reaches the job's whole process group: the
// recorder gets it, and its children (default action: end) end.
func TestCtlSignalReachesTheProcessGroup(t *testing.T) {
	out := filepath.Join(t.TempDir(), "record")
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"web": jobFile("cmd", []string{bin.testprog, "record", "-out", out, "-exit-on", "TERM", "-children", "2"}, "starttime", 0),
	}})
	r := d.awaitReady(out, 1, 2)
	require.Equal(t, "web: sent SIGHUP\n", d.ctlOK("signal", "HUP", "web"))
	eventually(t, 10*time.Second, func() bool { return len(readRecord(out).signals) == 1 }, "no signal recorded")
	require.Equal(t, []string{"SIGHUP"}, readRecord(out).signals)
	eventually(t, 10*time.Second, func() bool { return !alive(r.children[0]) && !alive(r.children[1]) },
		"the children in the group did not get SIGHUP")
	require.Equal(t, "RUNNING", d.status()["web"].Processes[0].State, "the recorder lives on")
	require.Equal(t, r.pids, d.hostPidsOf("web"))

	require.Equal(t, "web:0: sent SIGUSR2\n", d.ctlOK("signal", "12", "web:0"))
	eventually(t, 10*time.Second, func() bool { return len(readRecord(out).signals) == 2 }, "no second signal")
	_, stderr := d.ctlExit(2, "signal", "SIGFOO", "web")
	require.Contains(t, stderr, `unknown signal "SIGFOO"`)
	d.ctlOK("stop", "web")
	stdout, _ := d.ctlExit(1, "signal", "HUP", "web")
	require.Equal(t, "web: not running\n", stdout)
}

// taskmasterctl shutdown stops taskmasterd as SIGTERM does, and returns
// once it has exited: 0 when every job stopped in time, 3 when one had to
// be SIGKILLed after its stoptime.
func TestCtlShutdown(t *testing.T) {
	t.Run("graceful", func(t *testing.T) {
		d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{"web": sleeper()}})
		pids := d.hostPidsOf("web")
		stdout := d.ctlOK("shutdown")
		require.Equal(t, "taskmasterd at "+d.addr+": shutting down\ntaskmasterd: stopped\n", stdout)
		require.Equal(t, 0, d.wait(5*time.Second), "taskmasterd's exit code")
		requireGone(t, pids, "the job")
		require.Contains(t, d.stderr.String(), "shutdown requested over the control port")
	})
	t.Run("SIGKILL needed", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "record")
		d := startListening(t, daemonOpts{mode: asSubreaper, jobs: map[string]string{
			"deaf": jobFile("cmd", []string{bin.testprog, "record", "-out", out, "-exit-on", "none"}, "starttime", 0, "stoptime", 0.2),
		}})
		d.awaitReady(out, 1, 0)
		d.ctlOK("shutdown", "-y")
		require.Equal(t, 3, d.wait(5*time.Second))
		require.Equal(t, []string{"SIGTERM"}, readRecord(out).signals)
	})
}

// A job without a terminal can be attached read-only: its output shows,
// typing is not sent, Ctrl-C ends attach with 130 and the terminal as it
// was.
func TestAttachReadOnlyToAPipeJob(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		// Prints what comes through the FIFO, so the test decides when. The
		// FIFO is held open for reading and writing: reopened for each
		// line, it could be opened while the test's write end was still
		// open, and then read EOF and end the job.
		"web": jobFile("cmd", []string{"/bin/sh", "-c", "exec 3<> " + fifo + "; while read line <&3; do echo \"web says $line\"; done"}, "starttime", 0),
	}})
	d.awaitStates("web", 10*time.Second, "RUNNING")
	tm := newTerminal(t, 24, 80)
	before := tm.mode()
	_, code := tm.run(bin.taskmasterctl, "-addr", d.addr, "attach", "web")
	tm.expect("web:0 has no terminal")
	tm.expect("input is not possible") // printed once attached: what comes now shows
	tm.awaitRaw()
	require.NoError(t, os.WriteFile(fifo, []byte("hello\n"), 0o600))
	tm.expect("web says hello\r\n")
	tm.typeKeys("ignored\x03")
	require.Equal(t, 130, tm.awaitCode(code))
	tm.expect("taskmasterctl: interrupted")
	require.Equal(t, before, tm.mode())
	require.Equal(t, "RUNNING", d.status()["web"].Processes[0].State)
}

// onTerminal runs taskmasterd with args on the terminal, in mode m, as
// docker run -it or a login shell would: the terminal is its controlling
// terminal and it is in the terminal's foreground.
func (tm *terminal) taskmasterd(m mode, args ...string) (*exec.Cmd, <-chan int) {
	tm.t.Helper()
	cmd := daemonCommand(m, bin.taskmasterd, args)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tm.tty, tm.tty, tm.tty
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setsid, cmd.SysProcAttr.Setctty, cmd.SysProcAttr.Ctty = true, true, 0
	cmd.Env = append(os.Environ(), "PATH=/usr/bin:/bin")
	require.NoError(tm.t, cmd.Start())
	code := make(chan int, 1)
	go func() {
		err := cmd.Wait()
		code <- exitCodeOf(err, cmd.ProcessState)
	}()
	tm.t.Cleanup(func() {
		killTree(cmd.Process.Pid)
		_ = cmd.Process.Kill()
	})
	return cmd, code
}

// commandOf returns the pid of the command of single-command mode below
// taskmasterd (pid), once it runs prog.
func commandOf(t *testing.T, pid int, prog string) int {
	t.Helper()
	found := 0
	eventually(t, 10*time.Second, func() bool {
		for _, p := range descendants(pid) {
			if cmdlineHas(p.pid, prog) {
				found = p.pid
				return true
			}
		}
		return false
	}, "no %s below taskmasterd", prog)
	return found
}

// taskmasterd -- CMD on a terminal behaves like tini: CMD's group owns the
// terminal (so Ctrl-C is CMD's, not taskmasterd's), its size is the
// terminal's and follows the window, taskmasterd reads none of the input,
// and its exit code is CMD's.
func TestSingleCommandOnATerminal(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		tm := newTerminal(t, 24, 80)
		// A trapped signal interrupts read: the loop reads again.
		script := `trap 'echo "got INT"; exit 42' INT; trap 'echo winch' WINCH; stty size; echo ready; ` +
			`while :; do if read line; then echo "read: $line"; stty size; fi; done`
		cmd, code := tm.taskmasterd(m, "-listen", "off", "-http", "off", "-state", "off", "-log-level", "debug",
			"--", "/bin/sh", "-c", script)
		// (One at a time: taskmasterd's log lines go to the terminal too.)
		tm.expect("24 80\r\n")
		tm.expect("ready\r\n")

		child := commandOf(t, cmd.Process.Pid, "got INT")
		pgrp, _, _, tpgid := procStatOf(t, child)
		require.Equal(t, pgrp, tpgid, "the command's group is the terminal's foreground")
		tmPgrp, _, _, _ := procStatOf(t, cmd.Process.Pid)
		require.NotEqual(t, tmPgrp, tpgid, "taskmasterd is not in the foreground")

		// Every byte typed reaches the command: taskmasterd reads none.
		tm.typeKeys("hello, world\r")
		tm.expect("read: hello, world\r\n")
		tm.expect("24 80\r\n")

		tm.resize(40, 100)
		tm.typeKeys("\r")
		tm.expect("winch\r\n") // SIGWINCH reached it
		tm.expect("40 100\r\n")

		tm.typeKeys("\x03") // Ctrl-C
		tm.expect("got INT\r\n")
		require.Equal(t, 42, tm.awaitCode(code), "the command's exit code")
		require.NotContains(t, tm.screen.String(), "signal=SIGINT", "taskmasterd got no SIGINT")
	})
}

// Job control works in a shell run as the command: Ctrl-Z stops the job
// in its foreground and gives the shell the terminal back, fg resumes it,
// Ctrl-C ends it and leaves the shell be.
func TestSingleCommandJobControl(t *testing.T) {
	tm := newTerminal(t, 24, 80)
	cmd, code := tm.taskmasterd(asPID1, "-listen", "off", "-http", "off", "-state", "off",
		"--", "/bin/busybox", "env", "PS1=tm$ ", "/bin/busybox", "sh", "-i")
	tm.expect("tm$ ")
	tm.typeKeys("/bin/busybox sleep 1000\r")
	sleeper := commandOf(t, cmd.Process.Pid, "sleep 1000")
	foreground := func() {
		eventually(t, 10*time.Second, func() bool {
			pgrp, _, _, tpgid := procStatOf(t, sleeper)
			return pgrp == tpgid
		}, "the shell did not give sleep the terminal")
	}
	foreground()
	tm.typeKeys("\x1a") // Ctrl-Z
	tm.expect("Stopped")
	tm.expect("tm$ ")
	tm.typeKeys("echo back at the prompt\r")
	tm.expect("\r\nback at the prompt\r\n")
	tm.typeKeys("fg\r")
	foreground()
	tm.typeKeys("\x03") // Ctrl-C ends sleep, not the shell
	tm.expect("tm$ ")
	tm.typeKeys("exit 5\r")
	require.Equal(t, 5, tm.awaitCode(code))
}
