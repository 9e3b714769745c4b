// Package e2e runs the real taskmasterd binary the way users do: as PID 1
// in a fresh PID namespace (with its own /proc), as a subreaper under a
// normal parent, and in Docker containers, and reads the truth from /proc.
package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// bin holds the binaries under test, built once by TestMain.
var bin struct {
	dir, taskmasterd, taskmasterctl, testprog string
	// taskmasterdPlain is taskmasterd as a plain `go build` makes it,
	// without the linked GODEBUG default of `make build`.
	taskmasterdPlain string
}

// noPreempt are the link flags of `make build` (Makefile, NOPREEMPT) that
// start the runtime without async preemption.
const noPreempt = "-X runtime.godebugDefault=asyncpreemptoff=1 -X github.com/taskmaster/taskmaster/sigcatch.linkedGODEBUG=asyncpreemptoff=1"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "taskmaster-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin.dir = dir
	bin.taskmasterd = filepath.Join(dir, "taskmasterd")
	bin.taskmasterctl = filepath.Join(dir, "taskmasterctl")
	bin.testprog = filepath.Join(dir, "testprog")
	bin.taskmasterdPlain = filepath.Join(dir, "plain", "taskmasterd")
	for out, b := range map[string]struct{ pkg, ldflags string }{
		bin.taskmasterd:      {"../cmd/taskmasterd", noPreempt},
		bin.taskmasterdPlain: {"../cmd/taskmasterd", ""},
		bin.taskmasterctl:    {"../cmd/taskmasterctl", ""},
		bin.testprog:         {"./testprog", ""},
	} {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", b.ldflags, "-o", out, b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: cannot build", b.pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// mode is how taskmasterd runs.
type mode string

const (
	asPID1      mode = "pid1"      // PID 1 of a new PID namespace with its own /proc
	asSubreaper mode = "subreaper" // a child of the test, which makes itself a subreaper
)

var modes = []mode{asPID1, asSubreaper}

// syncBuffer is a bytes.Buffer safe for a writer goroutine and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// awaitCount waits until buf holds part at least n times, and returns how
// many times it holds it. A process's output reaches buf through a pipe
// that os/exec copies on a goroutine of its own, so a line written before
// an answer the test already has (a status, a control response, another
// process's log) may not be in buf yet: a test that looks for a line of
// the log waits for it, with this or awaitLogged.
func awaitCount(t *testing.T, buf *syncBuffer, part string, n int, timeout time.Duration) int {
	t.Helper()
	var have int
	eventually(t, timeout, func() bool {
		have = strings.Count(buf.String(), part)
		return have >= n
	}, "%q appears %s times in the output, want %d", part, lazy(func() string { return strconv.Itoa(have) }), n)
	return have
}

// awaitLogged waits until buf holds part (see awaitCount for why).
func awaitLogged(t *testing.T, buf *syncBuffer, part string, timeout time.Duration) {
	t.Helper()
	awaitCount(t, buf, part, 1, timeout)
}

// daemon is one running taskmasterd.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	pid    int    // its pid as the test sees it
	jobs   string // its jobs directory
	state  string // its state directory (-state)
	binary string // the taskmasterd it runs
	addr   string // its control address
	http   string // its HTTP address
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
	code   int
}

// daemonOpts say how to start a daemon.
type daemonOpts struct {
	mode    mode
	jobs    map[string]string // job files to write before the start, by job name
	args    []string          // more flags
	command []string          // single-command mode
	noJobs  bool              // do not pass -jobs
	env     []string          // more environment variables for taskmasterd
	binary  string            // the taskmasterd to run; bin.taskmasterd if empty
	// state is the -state directory; "" gives the daemon a new one of its
	// own, so that parallel tests never share (or fight over) one.
	state string
}

func startDaemon(t *testing.T, o daemonOpts) *daemon {
	t.Helper()
	addrs := freeAddrs(t, 2)
	d := &daemon{t: t, jobs: t.TempDir(), state: o.state, addr: addrs[0], http: addrs[1], stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	if d.state == "" {
		d.state = t.TempDir()
	}
	for name, body := range o.jobs {
		d.writeJob(name, body)
	}
	args := []string{"-listen", d.addr, "-http", d.http, "-log-level", "debug", "-state", d.state}
	if !o.noJobs {
		args = append(args, "-jobs", d.jobs)
	}
	args = append(args, o.args...)
	if o.command != nil {
		args = append(append(args, "--"), o.command...)
	}
	d.binary = o.binary
	if d.binary == "" {
		d.binary = bin.taskmasterd
	}
	d.cmd = daemonCommand(o.mode, d.binary, args)
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	// A process that outlives a failed taskmasterd may hold its output
	// pipes: Wait must not wait for them for ever.
	d.cmd.WaitDelay = 5 * time.Second
	d.cmd.Env = append(append(os.Environ(), "PATH=/usr/bin:/bin"), o.env...)
	require.NoError(t, d.cmd.Start())
	d.pid = d.cmd.Process.Pid
	go func() {
		err := d.cmd.Wait()
		d.code = exitCodeOf(err, d.cmd.ProcessState)
		close(d.done)
	}()
	t.Cleanup(func() {
		// The tree first: once a subreaper is gone, its jobs belong to the
		// system's init and are no longer found below it.
		killTree(d.pid)
		select {
		case <-d.done:
		default:
			_ = syscall.Kill(d.pid, syscall.SIGKILL)
			<-d.done
		}
		if t.Failed() {
			t.Logf("taskmasterd stderr:\n%s", d.stderr.String())
		}
	})
	if o.mode == asPID1 {
		d.waitNSPid1()
	}
	return d
}

// daemonCommand returns the command that runs taskmasterd with args in
// mode m. As PID 1, a shell in the new namespaces makes the mounts private,
// mounts a /proc of the new PID namespace, and execs taskmasterd, which so
// keeps PID 1.
func daemonCommand(m mode, binary string, args []string) *exec.Cmd {
	if m == asSubreaper {
		return exec.Command(binary, args...)
	}
	script := `mount --make-rprivate / && mount -t proc proc /proc && exec "$0" "$@"`
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, binary}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	return cmd
}

// waitNSPid1 waits until the daemon's process is taskmasterd and is PID 1
// in its namespace, or has already exited (a short single command): the
// first process of a new PID namespace is its PID 1, and exec keeps it so.
func (d *daemon) waitNSPid1() {
	eventually(d.t, 10*time.Second, func() bool {
		select {
		case <-d.done:
			return true
		default:
		}
		exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", d.pid))
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.pid))
		return exe == d.binary && strings.Contains(string(status), fmt.Sprintf("NSpid:\t%d\t1\n", d.pid))
	}, "taskmasterd is not PID 1 of a new namespace")
}

func (d *daemon) writeJob(name, body string) {
	d.t.Helper()
	writeFileAtomic(d.t, filepath.Join(d.jobs, name+".tm.json"), body)
}

func writeFileAtomic(t *testing.T, path, body string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	require.NoError(t, os.WriteFile(tmp, []byte(body), 0o644))
	require.NoError(t, os.Rename(tmp, path))
}

func (d *daemon) signal(sig syscall.Signal) {
	d.t.Helper()
	require.NoError(d.t, syscall.Kill(d.pid, sig))
}

// wait waits for taskmasterd to exit and returns its exit code.
func (d *daemon) wait(timeout time.Duration) int {
	d.t.Helper()
	select {
	case <-d.done:
		return d.code
	case <-time.After(timeout):
		d.t.Fatalf("taskmasterd did not exit within %v; stderr:\n%s", timeout, d.stderr.String())
		return -1
	}
}

func exitCodeOf(err error, st *os.ProcessState) int {
	if st == nil {
		return -1
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return st.ExitCode()
}

// freeAddr returns a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(freePort(t))
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, msg string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: "+msg, append([]any{timeout}, args...)...)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// jobFile builds a job file from key/value pairs.
func jobFile(kv ...any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", kv[i], jsonValue(kv[i+1]))
	}
	b.WriteByte('}')
	return b.String()
}

func jsonValue(v any) string {
	switch v := v.(type) {
	case string:
		return strconv.Quote(v)
	case []string:
		q := make([]string, len(v))
		for i, s := range v {
			q[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(q, ",") + "]"
	default:
		return fmt.Sprint(v)
	}
}

// readLines returns the lines of a file, or none if it does not exist yet.
func readLines(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(data), "\n"), "\n")
}

// recorded is what a testprog record run wrote.
type recorded struct {
	pids     []int    // "ready PID" lines, one per process that wrote to the file
	children []int    // "child PID" lines
	signals  []string // signal names, in order received
}

func readRecord(path string) recorded {
	var r recorded
	for _, line := range readLines(path) {
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "ready":
			pid, _ := strconv.Atoi(rest)
			r.pids = append(r.pids, pid)
		case "child":
			pid, _ := strconv.Atoi(rest)
			r.children = append(r.children, pid)
		default:
			r.signals = append(r.signals, line)
		}
	}
	return r
}
