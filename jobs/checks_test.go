package jobs

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// The transitions of ready and health checks, on fake processes and a
// fake clock: exec checks are fakeStarter's, ended by the test.

func TestReadyExecStartingUntilItPasses(t *testing.T) {
	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100","ready":{"exec":["pg_isready","-q"],"interval":1}}`)
	h.reload()
	// The first check runs at once, with the job's spec.
	c := h.awaitCheck(1)
	require.Equal(t, []string{"pg_isready", "-q"}, c.cmd)
	require.Equal(t, "db:0", c.name)
	p := h.process("db:0")
	require.Equal(t, "STARTING", p.State)
	require.Equal(t, "waiting", p.Ready)

	h.finishCheck(1, 2, "no response")
	p = h.awaitProcess("db:0", "the failure shows", func(p ProcessStatus) bool { return p.CheckError != "" })
	require.Equal(t, "exit status 2: no response", p.CheckError)
	require.Equal(t, "STARTING", p.State)

	// starttime (1s by default) does not apply: the check decides.
	h.advance(time.Second)
	h.finishCheck(2, 0, "")
	p = h.awaitProcess("db:0", "RUNNING", func(p ProcessStatus) bool { return p.State == "RUNNING" })
	require.Equal(t, "ready", p.Ready)
	require.Empty(t, p.CheckError)
	require.Equal(t, "ready: exec pg_isready -q", p.Detail)
	require.True(t, h.status("db").Healthy)

	// Once ready, the ready check runs no more: no timer is left.
	require.Empty(t, h.clock.pending())
	h.advance(10 * time.Second)
	require.Equal(t, 2, h.starter.checkCount())
}

func TestReadyDeadlineIsAFailedStart(t *testing.T) {
	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100","startretries":1,"ready":{"exec":"false","interval":1,"deadline":2.5}}`)
	h.reload()
	h.finishCheck(1, 1, "")
	pid := h.pids("db")[0]
	h.advance(time.Second)
	h.finishCheck(2, 1, "refused")
	h.awaitProcess("db:0", "the failure shows", func(p ProcessStatus) bool { return p.CheckError == "exit status 1: refused" })

	// At the deadline the process is stopped (its stopsignal), and its
	// start counts as failed, with the reason.
	h.advance(1500 * time.Millisecond)
	p := h.awaitProcess("db:0", "BACKOFF", func(p ProcessStatus) bool { return p.State == "BACKOFF" })
	require.Equal(t, []syscall.Signal{syscall.SIGTERM}, h.starter.signalsTo(pid))
	require.Equal(t, "not ready after 2.5s (exit status 1: refused); retry 1 of 1 in 250ms", p.Detail)
	require.Empty(t, p.Ready)

	// The retry gets a new deadline; it fails too: FATAL.
	h.advance(250 * time.Millisecond)
	h.awaitProcess("db:0", "STARTING again", func(p ProcessStatus) bool { return p.State == "STARTING" && p.Pid != pid })
	h.advance(2500 * time.Millisecond)
	p = h.awaitProcess("db:0", "FATAL", func(p ProcessStatus) bool { return p.State == "FATAL" })
	require.Contains(t, p.Detail, "not ready after 2.5s")
	require.Contains(t, p.Detail, "gave up after 2 attempts")
	require.False(t, h.status("db").Healthy)
}

func TestReadyDeadlineKillsAStubbornProcess(t *testing.T) {
	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100","startretries":0,"stoptime":2,"ready":{"exec":"false","deadline":1}}`)
	h.reload()
	h.awaitCheck(1)
	pid := h.pids("db")[0]
	h.starter.ignore(pid)
	h.advance(time.Second)
	h.awaitProcess("db:0", "STOPPING", func(p ProcessStatus) bool { return p.State == "STOPPING" })
	h.advance(2 * time.Second)
	p := h.awaitProcess("db:0", "FATAL", func(p ProcessStatus) bool { return p.State == "FATAL" })
	require.Equal(t, []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL}, h.starter.signalsTo(pid))
	require.True(t, strings.HasPrefix(p.Detail, "not ready after 1s"), p.Detail)
}

func TestExitBeforeReady(t *testing.T) {
	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100","startretries":0,"ready":{"tcp":"127.0.0.1:1"}}`)
	h.reload()
	h.await("db", Starting)
	h.starter.exit(h.pids("db")[0], exitStatus(3))
	p := h.awaitProcess("db:0", "FATAL", func(p ProcessStatus) bool { return p.State == "FATAL" })
	require.Equal(t, "exited before it was ready (exit status 3); gave up after 1 attempts", p.Detail)
}

func TestExecCheckTimeoutKillsItsGroup(t *testing.T) {
	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100","ready":{"exec":"slow-check","timeout":2,"interval":5,"deadline":0}}`)
	h.reload()
	c := h.awaitCheck(1)
	h.advance(2 * time.Second)
	p := h.awaitProcess("db:0", "the timeout shows", func(p ProcessStatus) bool { return p.CheckError != "" })
	require.Equal(t, "timed out after 2s", p.CheckError)
	require.Equal(t, []syscall.Signal{syscall.SIGKILL}, h.starter.signalsTo(c.pid))
	require.Equal(t, "STARTING", p.State) // deadline 0: it may take its time
	// The next check starts an interval after the last one started.
	h.advance(3 * time.Second)
	h.awaitCheck(2)
}

func TestReadyTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // refused, for now

	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100","ready":{"tcp":"`+addr+`","deadline":0}}`)
	h.reload()
	p := h.awaitProcess("db:0", "refused", func(p ProcessStatus) bool { return p.CheckError != "" })
	require.Contains(t, p.CheckError, "connection refused")
	require.Equal(t, "STARTING", p.State)

	ln, err = net.Listen("tcp", addr)
	require.NoError(t, err)
	defer ln.Close()
	h.advance(time.Second)
	p = h.awaitProcess("db:0", "RUNNING", func(p ProcessStatus) bool { return p.State == "RUNNING" })
	require.Equal(t, "ready: tcp "+addr, p.Detail)
}

// A tcp check whose handshake does not end at once (the service's accept
// queue is full: its kernel drops the SYN) is waited for off the loop,
// within its timeout; a refused one above ended at once, on the loop.
func TestReadyTCPSlowHandshake(t *testing.T) {
	addr := fullListener(t)
	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100","ready":{"tcp":"`+addr+`","timeout":1,"deadline":0}}`)
	h.reload()
	p := h.awaitProcess("db:0", "timed out", func(p ProcessStatus) bool { return p.CheckError != "" })
	require.Equal(t, "timed out after 1s", p.CheckError)
	require.Equal(t, "STARTING", p.State)
}

func TestReadyHTTPStatusRange(t *testing.T) {
	var code atomic.Int32
	code.Store(http.StatusServiceUnavailable)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()

	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","ready":{"http":"`+srv.URL+`/healthz","status":[200,302],"deadline":0}}`)
	h.reload()
	p := h.awaitProcess("web:0", "503", func(p ProcessStatus) bool { return p.CheckError != "" })
	require.Equal(t, "HTTP 503 Service Unavailable (want 200-302)", p.CheckError)

	code.Store(http.StatusFound) // in the range, and not followed
	h.advance(time.Second)
	h.awaitProcess("web:0", "RUNNING", func(p ProcessStatus) bool { return p.State == "RUNNING" })
}

func TestReadyNotify(t *testing.T) {
	h := newHarness(t)
	h.write("api", `{"cmd":"/bin/sleep 100","ready":{"notify":true,"deadline":0}}`)
	h.reload()
	h.await("api", Starting)
	// Only its process may write to its socket.
	path := ""
	for _, kv := range h.starter.lastProc("api:0").Env {
		path, _ = strings.CutPrefix(kv, "NOTIFY_SOCKET=")
	}
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.ModeSocket|0o600, fi.Mode())

	h.sendNotify("api:0", "STATUS=loading the cache\n")
	p := h.awaitProcess("api:0", "STATUS=", func(p ProcessStatus) bool { return p.NotifyStatus != "" })
	require.Equal(t, "loading the cache", p.NotifyStatus)
	require.Equal(t, "STARTING", p.State)

	h.sendNotify("api:0", "STATUS=serving\nREADY=1")
	p = h.awaitProcess("api:0", "RUNNING", func(p ProcessStatus) bool { return p.State == "RUNNING" })
	require.Equal(t, "serving", p.NotifyStatus)
	require.Equal(t, "ready: READY=1", p.Detail)

	// Its socket goes with its process.
	h.starter.exit(p.Pid, exitStatus(0))
	h.awaitProcess("api:0", "EXITED", func(p ProcessStatus) bool { return p.State == "EXITED" })
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestReadyNotifyFD(t *testing.T) {
	h := newHarness(t)
	h.write("api", `{"cmd":"/bin/sleep 100","ready":{"notify_fd":5,"deadline":0}}`)
	h.reload()
	h.await("api", Starting)
	w := h.starter.lastProc("api:0").Files[5]
	_, err := unix.Write(w, []byte("almost"))
	require.NoError(t, err)
	_, err = unix.Write(w, []byte(" there\n"))
	require.NoError(t, err)
	p := h.awaitProcess("api:0", "RUNNING", func(p ProcessStatus) bool { return p.State == "RUNNING" })
	require.Equal(t, "ready: a line on fd 5", p.Detail)
}

func TestWatchdog(t *testing.T) {
	h := newHarness(t)
	h.write("api", `{"cmd":"/bin/sleep 100","ready":{"notify":true,"watchdog_sec":2,"deadline":0}}`)
	h.reload()
	h.await("api", Starting)
	require.Contains(t, h.starter.lastProc("api:0").Env, "WATCHDOG_USEC=2000000")
	h.sendNotify("api:0", "READY=1")
	h.await("api", Running)
	pid := h.pids("api")[0]

	// Each WATCHDOG=1 moves the deadline.
	h.advance(1500 * time.Millisecond)
	h.sendNotify("api:0", "WATCHDOG=1")
	h.awaitProcess("api:0", "the ping handled", func(ProcessStatus) bool {
		pending := h.clock.pending()
		return len(pending) == 1 && pending[0] == 2*time.Second
	})
	h.advance(1500 * time.Millisecond)
	require.Equal(t, "RUNNING", h.process("api:0").State)

	// Without one, the process is stopped and started again.
	h.advance(500 * time.Millisecond)
	p := h.awaitProcess("api:0", "restarted", func(p ProcessStatus) bool { return p.State == "STARTING" && p.Pid != pid })
	require.Equal(t, []syscall.Signal{syscall.SIGTERM}, h.starter.signalsTo(pid))
	require.Equal(t, "restarted: watchdog: no WATCHDOG=1 within 2s (restart 1)", p.Detail)
	require.Equal(t, 1, p.Restarts)
}

func TestHealthRetriesThenRestart(t *testing.T) {
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"health":{"exec":"check","interval":1,"retries":2}}`)
	h.reload()
	h.await("web", Running)
	pid := h.pids("web")[0]
	p := h.process("web:0")
	require.Equal(t, "checking", p.Health)
	require.True(t, h.status("web").Healthy, "not unhealthy until a check says so")

	h.advance(time.Second)
	h.finishCheck(1, 0, "")
	h.awaitProcess("web:0", "healthy", func(p ProcessStatus) bool { return p.Health == "healthy" })

	h.advance(time.Second)
	h.finishCheck(2, 1, "disk full")
	p = h.awaitProcess("web:0", "one failure", func(p ProcessStatus) bool { return p.HealthFailures == 1 })
	require.Equal(t, "healthy", p.Health) // not yet: retries is 2
	require.Equal(t, "exit status 1: disk full", p.CheckError)

	h.advance(time.Second)
	h.finishCheck(3, 1, "disk full")
	p = h.awaitProcess("web:0", "restarted", func(p ProcessStatus) bool { return p.Pid != pid && p.State == "RUNNING" })
	require.Equal(t, []syscall.Signal{syscall.SIGTERM}, h.starter.signalsTo(pid))
	require.Equal(t, "restarted: unhealthy: 2 health checks failed in a row (exit status 1: disk full) (restart 1)", p.Detail)
	require.Equal(t, "checking", p.Health) // a new process, checked afresh
	require.Zero(t, p.HealthFailures)
	require.Contains(t, h.log.String(), `msg=health instance=web:0 from=healthy to=unhealthy`)
}

func TestHealthIgnoreOnlyReports(t *testing.T) {
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"autostart":false,"health":{"exec":"check","interval":1,"retries":1,"on_unhealthy":"ignore"}}`)
	h.reload()
	require.NoError(t, h.s.Start(h.ctx, "web"))
	pid := h.pids("web")[0]
	h.advance(time.Second)
	h.finishCheck(1, 1, "")
	p := h.awaitProcess("web:0", "unhealthy", func(p ProcessStatus) bool { return p.Health == "unhealthy" })
	require.Equal(t, pid, p.Pid)
	require.Equal(t, "RUNNING", p.State)
	require.False(t, h.status("web").Healthy)
	require.Empty(t, h.starter.signalsTo(pid))

	h.advance(time.Second)
	h.finishCheck(2, 0, "")
	h.awaitProcess("web:0", "healthy again", func(p ProcessStatus) bool { return p.Health == "healthy" })
	require.True(t, h.status("web").Healthy)
}

func TestStopDuringUnhealthyRestartStops(t *testing.T) {
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"health":{"exec":"check","interval":1,"retries":1}}`)
	h.reload()
	h.await("web", Running)
	pid := h.pids("web")[0]
	h.starter.ignore(pid)
	h.advance(time.Second)
	h.finishCheck(1, 1, "")
	h.await("web", Stopping)
	// The stop asked for now wins over the restart.
	stopped := make(chan error, 1)
	go func() { stopped <- h.s.Stop(context.Background(), "web") }()
	require.Eventually(t, func() bool { // the stop is under way: it waits
		waiting := 0
		_ = h.s.call(func() { waiting = len(h.s.waiters) })
		return waiting == 1
	}, 5*time.Second, time.Millisecond)
	h.advance(5 * time.Second) // stoptime: SIGKILL
	require.NoError(t, <-stopped)
	require.Equal(t, "STOPPED", h.process("web:0").State)
	require.Equal(t, []string{"web:0"}, h.starter.startedNames())
}

func TestDependsOnWaitsForReady(t *testing.T) {
	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100","ready":{"exec":"pg_isready","deadline":0}}`)
	h.write("api", `{"cmd":"/bin/sleep 100","starttime":0,"depends_on":["db"]}`)
	h.reload()
	h.awaitCheck(1)
	require.Equal(t, "waiting for db", h.process("api:0").Detail)
	require.Equal(t, []string{"db:0"}, h.starter.startedNames())
	h.finishCheck(1, 0, "")
	h.await("api", Running)
	require.Equal(t, []string{"db:0", "api:0"}, h.starter.startedNames())
}

func TestDependencyNeverReadyFailsTheStart(t *testing.T) {
	h := newHarness(t)
	h.write("db", `{"cmd":"/bin/sleep 100","autostart":false,"startretries":0,"ready":{"exec":"pg_isready","deadline":1}}`)
	h.write("api", `{"cmd":"/bin/sleep 100","autostart":false,"depends_on":["db"]}`)
	h.reload()
	started := make(chan error, 1)
	go func() { started <- h.s.Start(context.Background(), "api") }()
	h.finishCheck(1, 1, "no response")
	h.awaitProcess("db:0", "the failure shows", func(p ProcessStatus) bool { return p.CheckError != "" })
	h.advance(time.Second)
	err := <-started
	require.ErrorContains(t, err, "api:0: waiting for db, which is FATAL")
	require.ErrorContains(t, err, "not ready after 1s (exit status 1: no response)")
}

func TestWaitReady(t *testing.T) {
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"health":{"exec":"check","interval":1}}`)
	h.write("db", `{"cmd":"/bin/sleep 100","startretries":0,"ready":{"exec":"check","deadline":1}}`)
	h.reload()
	h.await("web", Running)
	ready := make(chan error, 1)
	go func() { ready <- h.s.WaitReady(context.Background(), "web") }()
	// RUNNING is not enough with a health check: its first check must pass.
	h.advance(time.Second)
	require.Never(t, func() bool { return len(ready) > 0 }, 50*time.Millisecond, 5*time.Millisecond)
	n := h.starter.checkCount()
	for i := 1; i <= n; i++ {
		if h.starter.check(i).name == "web:0" {
			h.finishCheck(i, 0, "")
		}
	}
	require.NoError(t, <-ready)

	// A FATAL instance will not become ready: the wait ends at once.
	go func() { ready <- h.s.WaitReady(context.Background(), "db") }()
	h.advance(time.Second)
	err := <-ready
	require.ErrorIs(t, err, ErrNotReady)
	require.ErrorContains(t, err, "db:0: will not become ready: FATAL: not ready after 1s")
}

func TestNoChecksNoTimers(t *testing.T) {
	h := newHarness(t)
	h.write("plain", `{"cmd":"/bin/sleep 100","numprocs":5,"starttime":0}`)
	h.reload()
	h.await("plain", Running)
	require.Empty(t, h.clock.pending(), "a job without checks arms no timer")

	// Many instances with health checks: one timer for all of them.
	h.write("checked", `{"cmd":"/bin/sleep 100","numprocs":5,"starttime":0,"health":{"tcp":"127.0.0.1:1","interval":1}}`)
	h.reload()
	h.await("checked", Running)
	require.Len(t, h.clock.pending(), 1)
}

func TestReloadAddsAndRemovesHealthInPlace(t *testing.T) {
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0}`)
	h.reload()
	h.await("web", Running)
	pid := h.pids("web")[0]
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"health":{"exec":"check","interval":1}}`)
	h.reload()
	require.Equal(t, "checking", h.process("web:0").Health)
	h.advance(time.Second)
	h.finishCheck(1, 0, "")
	h.awaitProcess("web:0", "healthy", func(p ProcessStatus) bool { return p.Health == "healthy" })

	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0}`)
	h.reload()
	require.Empty(t, h.process("web:0").Health)
	require.Empty(t, h.clock.pending())
	require.Equal(t, []int{pid}, h.pids("web"), "not restarted")
}

func TestHealthChangesArePublished(t *testing.T) {
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","starttime":0,"health":{"exec":"check","interval":1,"on_unhealthy":"ignore","retries":1}}`)
	h.reload()
	h.await("web", Running)
	sub, err := h.s.Subscribe(0)
	require.NoError(t, err)
	defer sub.Close()
	h.advance(time.Second)
	h.finishCheck(1, 1, "boom")
	var ev *Event
	require.Eventually(t, func() bool {
		select {
		case ev = <-sub.C:
			return ev.Kind == InstanceChanged && ev.Instance.Health == "unhealthy"
		default:
			return false
		}
	}, 5*time.Second, time.Millisecond)
	require.Equal(t, "RUNNING", ev.Instance.From)
	require.Equal(t, "exit status 1: boom", ev.Instance.CheckError)
}

func TestExecCheckThatCannotStart(t *testing.T) {
	h := newHarness(t)
	h.starter.fail["check:db:0"] = errSpawn
	h.write("db", `{"cmd":"/bin/sleep 100","ready":{"exec":"nope","deadline":0}}`)
	h.reload()
	p := h.awaitProcess("db:0", "the failure shows", func(p ProcessStatus) bool { return p.CheckError != "" })
	require.Equal(t, "spawn failed", p.CheckError)
}

// An https check does not verify the service's certificate (a local
// service with one of its own), and reads no more of a large body than it
// needs.
func TestReadyHTTPSSelfSigned(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "taskmasterd-check", r.UserAgent())
		_, _ = w.Write(make([]byte, 1<<20))
	}))
	defer srv.Close()
	h := newHarness(t)
	h.write("web", `{"cmd":"/bin/sleep 100","ready":{"http":"`+srv.URL+`/"}}`)
	h.reload()
	p := h.awaitProcess("web:0", "RUNNING", func(p ProcessStatus) bool { return p.State == "RUNNING" })
	require.Equal(t, "ready: http "+srv.URL+"/", p.Detail)
}

// A tcp check's connection ends with a reset, not a FIN: the service sees
// ECONNRESET, and no socket is left in TIME_WAIT for a minute per check.
// It asks for no keep-alive probes either.
func TestTCPCheckClosesWithAReset(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	spec := &jobfile.Probe{Kind: jobfile.ProbeTCP, Addr: ln.Addr().String(), Timeout: 5 * time.Second}
	require.NoError(t, dialCheck(t.Context(), spec))
	c := <-accepted
	defer c.Close()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = c.Read(make([]byte, 1))
	require.ErrorIs(t, err, syscall.ECONNRESET, "the check closed its connection with a FIN")
	require.Zero(t, timeWaitTo(t, ln.Addr().(*net.TCPAddr).Port), "sockets in TIME_WAIT after the check")
}

// timeWaitTo counts the IPv4 sockets in TIME_WAIT whose remote port is
// port, from /proc/net/tcp.
func timeWaitTo(t *testing.T, port int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/net/tcp")
	require.NoError(t, err)
	n := 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 3 && f[3] == "06" && strings.HasSuffix(f[2], fmt.Sprintf(":%04X", port)) {
			n++
		}
	}
	return n
}
