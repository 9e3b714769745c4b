package e2e

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// End-to-end tests of taskmasterctl against the real taskmasterd, as
// docs/taskmasterctl.md describes it: output, exit codes, and the truth
// read from /proc.

// sleeper is a job that runs until stopped and is RUNNING as soon as it
// has started, with the keys of kv added or replaced.
func sleeper(kv ...any) string {
	all := []any{"cmd", []string{"/bin/sleep", "1000"}, "starttime", 0, "stoptime", 2}
	for i := 0; i < len(kv); i += 2 {
		replaced := false
		for j := 0; j < len(all); j += 2 {
			if all[j] == kv[i] {
				all[j+1], replaced = kv[i+1], true
			}
		}
		if !replaced {
			all = append(all, kv[i], kv[i+1])
		}
	}
	return jobFile(all...)
}

// startListening starts a daemon and waits until its control server
// accepts connections (startDaemon returns once the process runs). At the
// end of the test the daemon gets SIGTERM and must exit 0, before the
// harness's cleanup SIGKILLs it: as a subreaper, a SIGKILLed taskmasterd
// would leave its jobs to the system's init.
func startListening(t *testing.T, o daemonOpts) *daemon {
	t.Helper()
	d := startDaemon(t, o)
	t.Cleanup(func() { d.stopGracefully() })
	eventually(t, 10*time.Second, func() bool {
		select {
		case <-d.done:
			t.Fatalf("taskmasterd exited with %d; stderr:\n%s", d.code, d.stderr.String())
		default:
		}
		c, err := net.DialTimeout("tcp", d.addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}, "taskmasterd never listened on %s", d.addr)
	// The HTTP listener opens just after the control port: a test that
	// dials it at once must not beat it.
	if httpOn(o.args) {
		eventually(t, 10*time.Second, func() bool {
			return strings.Contains(d.stderr.String(), `msg="http server listening"`)
		}, "taskmasterd never said its HTTP server listens")
	}
	return d
}

// httpOn tells whether the daemon serves HTTP: the harness passes -http,
// and a later -http in args wins.
func httpOn(args []string) bool {
	on := true
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-http" || args[i] == "--http" {
			on = args[i+1] != "" && args[i+1] != "off"
		}
	}
	return on
}

// stopGracefully sends SIGTERM to a daemon still running and expects exit
// 0; whatever was below it and outlives it is SIGKILLed.
func (d *daemon) stopGracefully() {
	select {
	case <-d.done:
		return
	default:
	}
	below := map[int]string{} // pid -> start time, which tells a reused pid apart
	for _, p := range descendants(d.pid) {
		below[p.pid] = startTime(p.pid)
	}
	_ = syscall.Kill(d.pid, syscall.SIGTERM)
	select {
	case <-d.done:
		if d.code != 0 {
			d.t.Errorf("taskmasterd exited %d after SIGTERM, want 0", d.code)
		}
	case <-time.After(15 * time.Second):
		d.t.Errorf("taskmasterd did not exit within 15s of SIGTERM")
		_ = syscall.Kill(d.pid, syscall.SIGKILL)
		<-d.done
	}
	for pid, start := range below {
		if alive(pid) && start != "" && startTime(pid) == start {
			d.t.Errorf("pid %d outlived taskmasterd", pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// startTime returns the start time of a process (field 22 of its stat),
// or "" if it is gone.
func startTime(pid int) string {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return ""
	}
	f := bytes.Fields(stat[end+1:])
	if len(f) < 20 {
		return ""
	}
	return string(f[19]) // fields after comm start at stat's field 3
}

// ctlOK runs taskmasterctl, requires exit 0 and returns its stdout.
func (d *daemon) ctlOK(args ...string) string {
	d.t.Helper()
	out, errOut, code := d.ctl(args...)
	require.Equal(d.t, 0, code, "taskmasterctl %v: stdout %q, stderr %q", args, out, errOut)
	return out
}

// ctlExit runs taskmasterctl, requires exit code want and returns its
// output.
func (d *daemon) ctlExit(want int, args ...string) (stdout, stderr string) {
	d.t.Helper()
	out, errOut, code := d.ctl(args...)
	require.Equal(d.t, want, code, "taskmasterctl %v: stdout %q, stderr %q", args, out, errOut)
	return out, errOut
}

// noDaemon is a daemon that is not running: an address nobody listens on,
// for taskmasterctl commands that must not need one.
func noDaemon(t *testing.T) *daemon {
	return &daemon{t: t, addr: freeAddr(t)}
}

// hostPidsOf returns the pids of job's processes as the test sees them;
// they must be alive, or be started within 10 s: a start is made off the
// supervisor's loop, so a status asked for just after taskmasterd began
// listening may come before the first start is told.
func (d *daemon) hostPidsOf(job string) []int {
	d.t.Helper()
	var inner []int
	var missing string
	eventually(d.t, 10*time.Second, func() bool {
		procs := d.status()[job].Processes
		inner, missing = inner[:0], ""
		if len(procs) == 0 {
			missing = job // not loaded yet
		}
		for _, p := range procs {
			if p.Pid == 0 {
				missing = p.Name
			}
			inner = append(inner, p.Pid)
		}
		return missing == ""
	}, "%s has no process", lazy(func() string { return missing }))
	return d.hostPids(inner)
}

// hostPidOf returns the pid of one instance (NAME:N) as the test sees it;
// it must be alive.
func (d *daemon) hostPidOf(instance string) int {
	d.t.Helper()
	job, _, _ := strings.Cut(instance, ":")
	for _, p := range d.status()[job].Processes {
		if p.Name == instance {
			require.NotZero(d.t, p.Pid, "%s has no process", p.Name)
			return d.hostPids([]int{p.Pid})[0]
		}
	}
	d.t.Fatalf("no instance %s", instance)
	return 0
}

// awaitCtl runs taskmasterctl with args until its stdout satisfies cond,
// and returns that stdout.
func (d *daemon) awaitCtl(timeout time.Duration, cond func(string) bool, args ...string) string {
	d.t.Helper()
	var out, errOut string
	var code int
	deadline := time.Now().Add(timeout)
	for {
		out, errOut, code = d.ctl(args...)
		if cond(out) {
			return out
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("after %v, taskmasterctl %v still prints %q (stderr %q, exit %d)", timeout, args, out, errOut, code)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// requireGone requires that none of pids is alive (a zombie is not).
func requireGone(t *testing.T, pids []int, msg string) {
	t.Helper()
	for _, pid := range pids {
		require.False(t, alive(pid), "%s: pid %d is alive", msg, pid)
	}
}

// statusTable is the status table of taskmasterctl, cut into cells by the
// columns of its header.
type statusTable struct {
	header []string
	rows   []map[string]string // by heading
	lines  []string
}

// parseTable reads the status table: every row's cells start where their
// column's heading starts (the table is aligned), and DETAIL runs to the
// end of the line.
func parseTable(t *testing.T, out string) statusTable {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	require.NotEmpty(t, lines)
	tab := statusTable{header: strings.Fields(lines[0]), lines: lines}
	starts := make([]int, len(tab.header))
	for i, h := range tab.header {
		starts[i] = strings.Index(lines[0], h)
	}
	for _, line := range lines[1:] {
		row := map[string]string{}
		for i, h := range tab.header {
			if starts[i] > len(line) {
				row[h] = ""
				continue
			}
			end := len(line)
			if i+1 < len(starts) && starts[i+1] < end {
				end = starts[i+1]
			}
			require.True(t, starts[i] == 0 || line[starts[i]-1] == ' ', "cell %s of %q does not start at its column", h, line)
			row[h] = strings.TrimSpace(line[starts[i]:end])
		}
		tab.rows = append(tab.rows, row)
	}
	return tab
}

// row returns the row whose NAME is name.
func (tab statusTable) row(t *testing.T, name string) map[string]string {
	t.Helper()
	for _, r := range tab.rows {
		if r["NAME"] == name {
			return r
		}
	}
	t.Fatalf("no row %s in\n%s", name, strings.Join(tab.lines, "\n"))
	return nil
}

// background is a taskmasterctl running beside the test, whose stdout is
// read line by line.
type background struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	stderr *syncBuffer
	done   chan struct{}
	code   int
}

// ctlBackground starts taskmasterctl with args against the daemon.
func (d *daemon) ctlBackground(args ...string) *background {
	d.t.Helper()
	b := &background{t: d.t, lines: make(chan string, 1024), stderr: &syncBuffer{}, done: make(chan struct{})}
	b.cmd = exec.Command(bin.taskmasterctl, append([]string{"-addr", d.addr}, args...)...)
	b.cmd.Stderr = b.stderr
	out, err := b.cmd.StdoutPipe()
	require.NoError(d.t, err)
	require.NoError(d.t, b.cmd.Start())
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			b.lines <- sc.Text()
		}
		close(b.lines)
	}()
	go func() {
		err := b.cmd.Wait()
		b.code = exitCodeOf(err, b.cmd.ProcessState)
		close(b.done)
	}()
	d.t.Cleanup(func() {
		_ = b.cmd.Process.Kill()
		<-b.done
	})
	return b
}

// awaitLine reads lines until one satisfies match, and returns it.
func (b *background) awaitLine(timeout time.Duration, match func(string) bool, what string) string {
	b.t.Helper()
	deadline := time.After(timeout)
	var seen []string
	for {
		select {
		case line, ok := <-b.lines:
			if !ok {
				b.t.Fatalf("taskmasterctl ended before %s; it printed %q; stderr %q", what, seen, b.stderr.String())
			}
			if match(line) {
				return line
			}
			seen = append(seen, line)
		case <-deadline:
			b.t.Fatalf("after %v, no %s; taskmasterctl printed %q; stderr %q", timeout, what, seen, b.stderr.String())
		}
	}
}

// interrupt sends SIGINT, as Ctrl-C does, and returns the exit code.
func (b *background) interrupt(timeout time.Duration) int {
	b.t.Helper()
	require.NoError(b.t, b.cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-b.done:
		return b.code
	case <-time.After(timeout):
		b.t.Fatalf("taskmasterctl did not end within %v of SIGINT", timeout)
		return -1
	}
}

// writeFile writes a file, for push.
func writeFile(t *testing.T, path, body string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(body), 0o644))
}
