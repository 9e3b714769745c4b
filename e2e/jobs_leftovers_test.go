package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// What a job's process leaves in its process group when it ends on its
// own ("leftovers", docs/jobs.md): by default it is stopped, so that a job
// restarted over and over leaves nothing behind, neither processes nor the
// output pipes they hold open in taskmasterd.

// restartCycles is how many times the restart test starts the job.
const restartCycles = 1000

// fdCount returns how many descriptors process pid has open.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	require.NoError(t, err)
	return len(entries)
}

// cmdlineHas reports whether the command line of pid holds part.
func cmdlineHas(pid int, part string) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return err == nil && strings.Contains(strings.ReplaceAll(string(data), "\x00", " "), part)
}

// countBelow counts the live processes below root whose command line
// holds part.
func countBelow(root int, part string) int {
	n := 0
	for _, p := range descendants(root) {
		if p.state != "Z" && cmdlineHas(p.pid, part) {
			n++
		}
	}
	return n
}

// mkfifo makes a FIFO at path that nobody opens for writing: whoever opens
// it for reading blocks until the test is over, without a clock.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	require.NoError(t, syscall.Mkfifo(path, 0o644))
}

// controlClient is one connection to the control server, for many
// requests in a row.
type controlClient struct {
	t *testing.T
	c *ctlproto.Client
}

func (d *daemon) dialControl() *controlClient {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ctlproto.Dial(ctx, d.addr, "")
	require.NoError(d.t, err)
	d.t.Cleanup(func() { c.Close() })
	return &controlClient{t: d.t, c: c}
}

// do sends one request and requires a success.
func (cc *controlClient) do(cmd ctlproto.Command, job string, data []byte) {
	cc.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := cc.c.Do(ctx, &ctlproto.Request{Command: cmd, Job: job, Data: data})
	require.NoError(cc.t, err)
	require.Equal(cc.t, ctlproto.KindSuccess, resp.Kind, "%s %s: %s", cmd, job, resp.Error)
}

// A job whose process starts a background child and exits, started 1,000
// times: no child is left alive, and taskmasterd's descriptors do not
// grow (each child would hold the two output pipes of its job open).
//
// The job is started by requests, not by autorestart: a process that
// exits less than a second after it started counts as a failed start, so
// an autorestart loop this fast backs off and ends in FATAL by design
// (docs/jobs.md, Starting and retrying). Each request is a restart all
// the same: a new process of the instance, with the last one's child
// still there when it starts.
func TestLeftoversOfARestartLoopAreStopped(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		fifo := filepath.Join(t.TempDir(), "never-written")
		mkfifo(t, fifo)
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			// cat blocks opening the FIFO: a child that would live forever.
			"loop": jobFile("cmd", []string{"/bin/sh", "-c", "cat " + fifo + " & exit 0"},
				"autostart", false, "starttime", 0, "stoptime", 2),
		}})
		d.awaitStates("loop", 10*time.Second, "STOPPED") // loaded: the control port opens first
		cc := d.dialControl()
		exited, err := json.Marshal(map[string]any{"state": "EXITED", "timeout_ms": 10000})
		require.NoError(t, err)
		cycle := func() {
			cc.do(ctlproto.CmdStart, "loop", nil)
			cc.do(ctlproto.CmdWait, "loop", exited)
		}

		cycle()
		eventually(t, 10*time.Second, func() bool { return countBelow(d.pid, fifo) == 0 },
			"the first child was not stopped: %d left", countBelow(d.pid, fifo))
		before := fdCount(t, d.pid)
		for range restartCycles - 1 {
			cycle()
		}
		var left, fds int
		eventually(t, 15*time.Second, func() bool {
			left, fds = countBelow(d.pid, fifo), fdCount(t, d.pid)
			return left == 0 && fds <= before+4
		}, "after %d starts: %s", restartCycles, lazy(func() string {
			return fmt.Sprintf("%d children left alive, %d descriptors (%d before)", left, fds, before)
		}))
		require.Equal(t, restartCycles, awaitCount(t, d.stderr, `msg="stopping leftover processes of an ended process" instance=loop:0`, restartCycles, 10*time.Second),
			"one stop of leftovers per start")
		if m == asPID1 {
			entries, err := os.ReadDir(d.state)
			require.NoError(t, err)
			require.Empty(t, entries, "as PID 1 the state directory is not used")
		}
	})
}

// A leftover that ignores the stop signal gets SIGKILL after stoptime.
func TestLeftoverIgnoringTheStopSignalIsKilledAfterStoptime(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		dir := t.TempDir()
		ready, got := filepath.Join(dir, "ready"), filepath.Join(dir, "got")
		mkfifo(t, ready)
		// The child notes SIGTERM and carries on; it tells the job it is
		// ready through the FIFO, so that the job exits only once the trap
		// is set. wait returns on a trapped signal; the sleep it waits for
		// gets the job's stop signal too, so a new one is started.
		child := filepath.Join(dir, "stubborn.sh")
		writeFile(t, child, `trap 'echo TERM >> `+got+`' TERM
echo ready > `+ready+`
while :; do sleep 1000 & wait; done
`)
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: map[string]string{
			"job": jobFile("cmd", []string{"/bin/sh", "-c", "/bin/sh " + child + " & read x < " + ready + "; exit 0"},
				"autorestart", false, "starttime", 0, "stoptime", 1),
		}})
		d.awaitStates("job", 10*time.Second, "EXITED")
		awaitFileContent(t, got, 10*time.Second)
		start := time.Now()
		eventually(t, 10*time.Second, func() bool { return countBelow(d.pid, child) == 0 },
			"the child outlived SIGKILL")
		eventually(t, 5*time.Second, func() bool {
			return strings.Contains(d.stderr.String(), `msg="SIGKILLed leftover processes after stoptime 1s" instance=job:0`)
		}, "no SIGKILL logged:\n%s", d.stderr.String())
		require.Equal(t, "TERM\n", readFileString(t, got), "the stop signal came first, once")
		t.Logf("gone %v after its SIGTERM was noted", time.Since(start))
		require.Equal(t, []string{"EXITED"}, d.states("job"))
	})
}

// lazy is a message part computed when the message is printed.
type lazy func() string

func (l lazy) String() string { return l() }

func readFileString(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}
