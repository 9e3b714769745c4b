package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// nsinitArg, as the first argument, makes this binary the namespace helper
// (nsinit) instead of the benchmark.
const nsinitArg = "-nsinit-helper"

// nsinit runs as the first process of a fresh PID and mount namespace. It
// makes the mounts private, mounts the new namespace's /proc, says so on
// fd 3, waits for the benchmark to close fd 4 (so that the benchmark can
// get ready to watch the namespace first), writes the CLOCK_MONOTONIC time
// to fd 3 and execs argv, which so becomes PID 1 (exec keeps the pid). The
// time lets the benchmark start its clocks at the exec of the program
// measured rather than at the fork of this helper.
func nsinit(argv []string) {
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "nsinit: no command")
		os.Exit(2)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		fmt.Fprintln(os.Stderr, "nsinit: make mounts private:", err)
		os.Exit(1)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		fmt.Fprintln(os.Stderr, "nsinit: mount /proc:", err)
		os.Exit(1)
	}
	clock, goAhead := os.NewFile(3, "clock"), os.NewFile(4, "go-ahead")
	fmt.Fprintln(clock, "ready")
	_, _ = goAhead.Read(make([]byte, 1)) // EOF once the benchmark is ready
	goAhead.Close()
	fmt.Fprintln(clock, int64(monotonic()))
	clock.Close()
	err := syscall.Exec(argv[0], argv, os.Environ())
	fmt.Fprintf(os.Stderr, "nsinit: exec %s: %v\n", argv[0], err)
	os.Exit(127)
}

// monotonic returns CLOCK_MONOTONIC, which every process of the machine
// shares, so that a time taken in one process can be compared with another.
func monotonic() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

// proc is a process the benchmark started and must not leave behind.
type proc struct {
	name  string
	pid   int           // as this benchmark sees it
	exec  time.Duration // monotonic time at which the measured program was exec'd (namespaced processes)
	ended time.Duration // monotonic time at which its wait returned (for a namespace's PID 1: the namespace is empty)
	log   string        // its stdout and stderr, for error messages
	cmd   *exec.Cmd
	done  chan struct{} // closed once it has exited and been waited for
	state *os.ProcessState
}

// live holds every started process not yet waited for; killAll ends them
// when the benchmark is interrupted.
var live = struct {
	sync.Mutex
	procs map[*proc]struct{}
}{procs: map[*proc]struct{}{}}

// startInNamespace runs argv as PID 1 of a new PID namespace with its own
// /proc, with stdout and stderr going to logPath. SIGKILLing it ends every
// process of the namespace, which is how stop cleans up; PR_SET_PDEATHSIG
// does the same if the benchmark itself dies.
func startInNamespace(name string, argv []string, logPath string) (*proc, error) {
	return startInNamespaceReady(name, argv, logPath, nil)
}

// startInNamespaceReady is startInNamespace that calls ready, when not nil,
// once the namespace exists and before argv is exec'd in it: to watch the
// namespace's execs from the first.
func startInNamespaceReady(name string, argv []string, logPath string, ready func(*proc) error) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	goR, goW, err := os.Pipe()
	if err != nil {
		w.Close()
		return nil, err
	}
	defer goW.Close()
	cmd := exec.Command(self, append([]string{nsinitArg}, argv...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{w, goR}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	p, err := track(name, cmd, logPath)
	w.Close()
	goR.Close()
	if err != nil {
		return nil, err
	}
	lines := bufio.NewReader(r)
	if line, err := readLine(r, lines, 10*time.Second); err != nil || line != "ready" {
		p.stop()
		return nil, fmt.Errorf("start %s: namespace helper: %q, %v%s", name, line, err, p.logTail())
	}
	if ready != nil {
		if err := ready(p); err != nil {
			p.stop()
			return nil, err
		}
	}
	goW.Close()
	line, err := readLine(r, lines, 10*time.Second)
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("start %s: namespace helper: %w%s", name, err, p.logTail())
	}
	ns, err := strconv.ParseInt(line, 10, 64)
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("start %s: namespace helper wrote %q", name, line)
	}
	p.exec = time.Duration(ns)
	return p, nil
}

// readLine reads one line from lines, which reads r, within d.
func readLine(r *os.File, lines *bufio.Reader, d time.Duration) (string, error) {
	if err := r.SetReadDeadline(time.Now().Add(d)); err != nil {
		return "", err
	}
	line, err := lines.ReadString('\n')
	if err != nil {
		return "", fmt.Errorf("no start time: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// track starts cmd and registers it until it has been waited for.
func track(name string, cmd *exec.Cmd, logPath string) (*proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, pid: cmd.Process.Pid, log: logPath, cmd: cmd, done: make(chan struct{})}
	live.Lock()
	live.procs[p] = struct{}{}
	live.Unlock()
	go func() {
		_ = cmd.Wait()
		p.ended = monotonic()
		p.state = cmd.ProcessState
		live.Lock()
		delete(live.procs, p)
		live.Unlock()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether p has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// errExited says that a supervisor ended while it was being measured.
var errExited = errors.New("exited early")

// alive returns an error if p has ended, with the end of its log.
func (p *proc) alive() error {
	if p.exited() {
		return fmt.Errorf("%s %w (%v)%s", p.name, errExited, p.state, p.logTail())
	}
	return nil
}

// stop SIGKILLs p (for a namespace's PID 1: every process of the namespace)
// and waits for it.
func (p *proc) stop() {
	if p == nil || p.exited() {
		return
	}
	_ = syscall.Kill(p.pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		fmt.Fprintf(os.Stderr, "bench: %s (pid %d) did not end after SIGKILL\n", p.name, p.pid)
	}
}

// logTail returns the last lines of p's log, for an error message.
func (p *proc) logTail() string {
	if p.log == "" {
		return ""
	}
	b, err := os.ReadFile(p.log)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "\n\t" + strings.Join(lines, "\n\t")
}

// killAll SIGKILLs every process still running, for an interrupted run.
func killAll() {
	live.Lock()
	procs := make([]*proc, 0, len(live.procs))
	for p := range live.procs {
		procs = append(procs, p)
	}
	live.Unlock()
	for _, p := range procs {
		if p.cmd.SysProcAttr != nil && p.cmd.SysProcAttr.Setpgid {
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		}
		p.stop()
	}
}
