package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Ready and health checks with real processes (docs/jobs.md, ready and
// health). Each process that must not be ready yet waits on a gate the
// test holds, so "not ready" is a fact the test controls, not a race
// against a sleep.

// gated is argv that waits for the gate to open, then execs argv.
func gated(g *gate, argv ...string) []string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = "'" + a + "'"
	}
	return shArgv(fmt.Sprintf("cat '%s' >/dev/null; exec %s", g.path(), strings.Join(quoted, " ")))
}

// awaitProcess waits until cond holds for instance (NAME:N) and returns
// its status then.
func (d *daemon) awaitProcess(instance string, timeout time.Duration, what string, cond func(processStatus) bool) processStatus {
	d.t.Helper()
	job, _, _ := strings.Cut(instance, ":")
	var p processStatus
	eventually(d.t, timeout, func() bool {
		for _, q := range d.status()[job].Processes {
			if q.Name == instance {
				p = q
				return cond(q)
			}
		}
		return false
	}, "%s: %s; have %+v", instance, what, &p)
	return p
}

// busybox's httpd, ready when it serves index.html: STARTING (and the
// container unhealthy) until then, RUNNING once it really answers.
func TestReadyHTTPBusyboxHttpd(t *testing.T) {
	www := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(www, "index.html"), []byte("hello\n"), 0o644))
	port := freePort(t)
	g := newGate(t)
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"web": jobFile("cmd", gated(g, "/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:"+strconv.Itoa(port), "-h", www),
			"ready", rawJSON(fmt.Sprintf(`{"http": "http://127.0.0.1:%d/index.html", "interval": 0.1, "deadline": 0}`, port))),
	}})
	p := d.awaitProcess("web:0", 10*time.Second, "a failed check", func(p processStatus) bool { return p.CheckError != "" })
	require.Equal(t, "STARTING", p.State)
	require.Equal(t, "waiting", p.Ready)
	require.Contains(t, p.CheckError, "connection refused")

	// Not ready: the container's health check fails, and says why.
	_, errOut := d.ctlExit(1, "health")
	require.Contains(t, errOut, "taskmasterctl: web: unhealthy (STARTING): web:0: not ready: ")
	code, body := d.httpGet("/healthz", nil)
	require.Equal(t, http.StatusServiceUnavailable, code, body)
	table := d.ctlOK("status")
	require.Contains(t, table, "HEALTH")
	require.Regexp(t, `web:0 +STARTING +not ready `, table)

	g.release()
	require.Equal(t, "web: ready\n", d.ctlOK("wait", "web", "ready", "--timeout", "20s"))
	p = d.awaitProcess("web:0", time.Second, "RUNNING", func(p processStatus) bool { return p.State == "RUNNING" })
	require.Equal(t, "ready", p.Ready)
	require.Equal(t, fmt.Sprintf("ready: http http://127.0.0.1:%d/index.html", port), p.Detail)
	require.Equal(t, "busybox", comm(d.hostPidOf("web:0")), "the RUNNING process is httpd itself")
	require.Equal(t, "hello\n", httpGet(fmt.Sprintf("http://127.0.0.1:%d/index.html", port)))
	require.Equal(t, "healthy: 1 autostart job\n", d.ctlOK("health"))
	code, _ = d.httpGet("/healthz", nil)
	require.Equal(t, http.StatusOK, code)
}

// busybox's nc, listening, ready once a TCP connection succeeds.
func TestReadyTCPNetcat(t *testing.T) {
	port := freePort(t)
	g := newGate(t)
	d := startListening(t, daemonOpts{mode: asSubreaper, jobs: map[string]string{
		"nc": jobFile("cmd", gated(g, "/bin/busybox", "nc", "-ll", "-p", strconv.Itoa(port), "-e", "/bin/true"),
			"ready", rawJSON(fmt.Sprintf(`{"tcp": "127.0.0.1:%d", "interval": 0.1, "deadline": 0}`, port))),
	}})
	p := d.awaitProcess("nc:0", 10*time.Second, "a failed check", func(p processStatus) bool { return p.CheckError != "" })
	require.Equal(t, "STARTING", p.State)
	_, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	require.Error(t, err, "nothing listens yet")

	g.release()
	d.ctlOK("wait", "nc", "ready", "--timeout", "20s")
	p = d.awaitProcess("nc:0", time.Second, "RUNNING", func(p processStatus) bool { return p.State == "RUNNING" })
	require.Equal(t, fmt.Sprintf("ready: tcp 127.0.0.1:%d", port), p.Detail)
	require.Empty(t, p.CheckError)
	require.Equal(t, "busybox", comm(d.hostPidOf("nc:0")))
}

// A program that speaks sd_notify: its STATUS= shows while it gets ready,
// READY=1 makes it RUNNING, and the socket is its own.
func TestReadyNotifySocket(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	g := newGate(t)
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"api": jobFile("cmd", []string{bin.testprog, "notify", "-out", out, "-gate", g.path(), "-status", "loading the cache"},
			"ready", rawJSON(`{"notify": true, "deadline": 0}`)),
	}})
	p := d.awaitProcess("api:0", 10*time.Second, "its STATUS=", func(p processStatus) bool { return p.NotifyStatus != "" })
	require.Equal(t, "loading the cache", p.NotifyStatus)
	require.Equal(t, "STARTING", p.State)
	require.Contains(t, d.ctlOK("status"), "loading the cache")

	// NOTIFY_SOCKET names a socket of this process alone: mode 0600, in a
	// directory nobody can list.
	sock := envOf(t, d.hostPidOf("api:0"), "NOTIFY_SOCKET")
	require.NotEmpty(t, sock)
	fi, err := os.Stat(sock)
	require.NoError(t, err)
	require.Equal(t, os.ModeSocket|0o600, fi.Mode())
	dir, err := os.Stat(filepath.Dir(sock))
	require.NoError(t, err)
	require.Equal(t, os.ModeDir|0o711, dir.Mode())

	g.release()
	p = d.awaitProcess("api:0", 10*time.Second, "RUNNING", func(p processStatus) bool { return p.State == "RUNNING" })
	require.Equal(t, "ready: READY=1", p.Detail)
	require.Equal(t, "ready", p.NotifyStatus)
	// The program notes "ready" after it has sent READY=1: taskmasterd
	// may have heard it first.
	var lines []string
	eventually(t, 10*time.Second, func() bool {
		lines = readLines(out)
		return len(lines) >= 3
	}, "the program's lines: %q", lines)
	require.Len(t, lines, 3, "%q", lines)
	require.Equal(t, "socket "+sock, lines[1])
	require.True(t, strings.HasPrefix(lines[2], "ready "), "%q", lines)

	// The socket goes with the process.
	d.ctlOK("stop", "api")
	_, err = os.Stat(sock)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// A program that writes a line to its descriptor 3 when ready, as s6 asks.
func TestReadyNotifyFD(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	g := newGate(t)
	d := startListening(t, daemonOpts{mode: asSubreaper, jobs: map[string]string{
		"svc": jobFile("cmd", []string{bin.testprog, "notifyfd", "-out", out, "-fd", "3", "-gate", g.path()},
			"ready", rawJSON(`{"notify_fd": 3, "deadline": 0}`)),
	}})
	awaitLines(t, out, 1, 10*time.Second)
	require.Equal(t, "STARTING", d.status()["svc"].Processes[0].State)
	g.release()
	p := d.awaitProcess("svc:0", 10*time.Second, "RUNNING", func(p processStatus) bool { return p.State == "RUNNING" })
	require.Equal(t, "ready: a line on fd 3", p.Detail)
}

// A notify program that stops sending WATCHDOG=1 is restarted.
func TestReadyWatchdog(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	d := startListening(t, daemonOpts{mode: asSubreaper, jobs: map[string]string{
		"api": jobFile("cmd", []string{bin.testprog, "notify", "-out", out, "-pings", "3"},
			"ready", rawJSON(`{"notify": true, "watchdog_sec": 0.3}`)),
	}})
	first := d.awaitProcess("api:0", 10*time.Second, "RUNNING", func(p processStatus) bool { return p.State == "RUNNING" })
	require.Contains(t, awaitLines(t, out, 4, 10*time.Second)[3], "watchdog 300000 ", "WATCHDOG_USEC")
	p := d.awaitProcess("api:0", 10*time.Second, "restarted", func(p processStatus) bool { return p.Restarts >= 1 })
	require.NotEqual(t, first.Pid, p.Pid)
	require.Contains(t, p.Detail, "restarted: watchdog: no WATCHDOG=1 within 300ms")
	awaitLogged(t, d.stderr, `msg=health instance=api:0`, 10*time.Second)
}

// A chain web -> api -> db starts in the order of readiness: each starts
// only once what it depends on is ready, as the processes' own clocks
// tell.
func TestDependencyChainStartsInReadinessOrder(t *testing.T) {
	dir := t.TempDir()
	g := newGate(t)
	outs := map[string]string{}
	for _, n := range []string{"db", "api", "web"} {
		outs[n] = filepath.Join(dir, n)
	}
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"db": jobFile("cmd", []string{bin.testprog, "notify", "-out", outs["db"], "-gate", g.path()},
			"ready", rawJSON(`{"notify": true, "deadline": 0}`)),
		"api": jobFile("cmd", []string{bin.testprog, "notify", "-out", outs["api"]},
			"ready", rawJSON(`{"notify": true}`), "depends_on", []string{"db"}),
		"web": jobFile("cmd", []string{bin.testprog, "notify", "-out", outs["web"]},
			"ready", rawJSON(`{"notify": true}`), "depends_on", []string{"api"}),
	}})
	awaitLines(t, outs["db"], 1, 10*time.Second)
	d.awaitProcess("api:0", 5*time.Second, "waiting", func(p processStatus) bool { return p.Detail == "waiting for db" })
	require.Equal(t, "STOPPED", d.status()["web"].Processes[0].State)
	require.NoFileExists(t, outs["api"], "api started before db was ready")

	g.release()
	require.Equal(t, "web: ready\n", d.ctlOK("wait", "web", "ready", "--timeout", "20s"))
	stamps := map[string]map[string]int64{}
	for n, path := range outs {
		stamps[n] = map[string]int64{}
		for _, l := range readLines(path) {
			f := strings.Fields(l)
			if f[0] != "started" && f[0] != "ready" {
				continue
			}
			require.Len(t, f, 3, "%s: %q", n, l)
			ns, err := strconv.ParseInt(f[2], 10, 64)
			require.NoError(t, err)
			stamps[n][f[0]] = ns
		}
	}
	require.Greater(t, stamps["api"]["started"], stamps["db"]["ready"], "api started before db was ready")
	require.Greater(t, stamps["web"]["started"], stamps["api"]["ready"], "web started before api was ready")
}

// A dependency that never becomes ready fails its dependents' start, and
// the message names it.
func TestDependencyNeverReady(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asSubreaper, jobs: map[string]string{
		"db": jobFile("cmd", []string{"/bin/sleep", "1000"}, "autostart", false, "startretries", 0, "stoptime", 1,
			"ready", rawJSON(fmt.Sprintf(`{"tcp": "127.0.0.1:%d", "interval": 0.1, "deadline": 0.5}`, freePort(t)))),
		"api": jobFile("cmd", []string{"/bin/sleep", "1000"}, "autostart", false, "depends_on", []string{"db"}),
	}})
	_, errOut := d.ctlExit(1, "start", "api")
	require.Contains(t, errOut, "api:0: waiting for db, which is FATAL (db:0: not ready after 500ms (")
	require.Contains(t, errOut, "connection refused")
	_, errOut = d.ctlExit(1, "wait", "db", "ready")
	require.Contains(t, errOut, "db:0: will not become ready: FATAL: not ready after 500ms")
}

// A web server whose health endpoint starts failing is restarted after
// retries failed checks in a row, and shows it everywhere.
func TestHealthFailingIsRestarted(t *testing.T) {
	www := t.TempDir()
	health := filepath.Join(www, "health.txt")
	require.NoError(t, os.WriteFile(health, []byte("ok\n"), 0o644))
	port := freePort(t)
	// Its ready check is the health endpoint too: a restarted process
	// waits, STARTING, until the test has fixed it.
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"web": jobFile("cmd", []string{"/bin/busybox", "httpd", "-f", "-p", "127.0.0.1:" + strconv.Itoa(port), "-h", www},
			"ready", rawJSON(fmt.Sprintf(`{"http": "http://127.0.0.1:%d/health.txt", "interval": 0.1, "deadline": 0}`, port)),
			"health", rawJSON(fmt.Sprintf(`{"http": "http://127.0.0.1:%d/health.txt", "interval": 0.2, "retries": 3}`, port))),
	}})
	first := d.awaitProcess("web:0", 10*time.Second, "healthy", func(p processStatus) bool { return p.Health == "healthy" })
	firstHost := d.hostPidOf("web:0")
	require.Regexp(t, `web:0 +RUNNING +healthy `, d.ctlOK("status"))
	m := d.metrics()
	require.Equal(t, 1.0, m[`taskmaster_instances_health{health="healthy",job="web"}`])

	require.NoError(t, os.Remove(health))
	p := d.awaitProcess("web:0", 10*time.Second, "one failure", func(p processStatus) bool { return p.HealthFailures >= 1 })
	require.Contains(t, p.CheckError, "HTTP 404")
	p = d.awaitProcess("web:0", 10*time.Second, "restarted", func(p processStatus) bool { return p.Restarts == 1 })
	require.Equal(t, "STARTING", p.State)
	require.Equal(t, "restarted: unhealthy: 3 health checks failed in a row (HTTP 404 Not Found (want 200-299)) (restart 1)", p.Detail)
	require.NotEqual(t, first.Pid, p.Pid)
	require.NoError(t, os.WriteFile(health, []byte("ok\n"), 0o644))
	requireGone(t, []int{firstHost}, "the unhealthy process")
	awaitLogged(t, d.stderr, "msg=health instance=web:0 from=healthy to=unhealthy", 10*time.Second)
	p = d.awaitProcess("web:0", 10*time.Second, "healthy again", func(p processStatus) bool { return p.Health == "healthy" })
	require.Equal(t, 1, p.Restarts)
	m = d.metrics()
	require.GreaterOrEqual(t, m[`taskmaster_check_failures_total{job="web"}`], 3.0)
}

// With "ignore", an unhealthy instance is only reported: it keeps its
// process, and the container is unhealthy, autostart or not.
func TestHealthIgnoreReportsOnly(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "ok")
	d := startListening(t, daemonOpts{mode: asSubreaper, jobs: map[string]string{
		"worker": sleeper("autostart", false,
			"health", rawJSON(fmt.Sprintf(`{"exec": ["/bin/test", "-e", %q], "interval": 0.1, "retries": 2, "on_unhealthy": "ignore"}`, flag))),
	}})
	d.ctlOK("start", "worker")
	pid := d.hostPidOf("worker:0")
	p := d.awaitProcess("worker:0", 10*time.Second, "unhealthy", func(p processStatus) bool { return p.Health == "unhealthy" })
	require.Equal(t, "exit status 1", p.CheckError)
	require.Equal(t, pid, d.hostPidOf("worker:0"))
	_, errOut := d.ctlExit(1, "health")
	require.Equal(t, "taskmasterctl: worker: unhealthy (RUNNING): worker:0: unhealthy: exit status 1\n", errOut)
	code, body := d.httpGet("/healthz", nil)
	require.Equal(t, http.StatusServiceUnavailable, code, body)

	require.NoError(t, os.WriteFile(flag, nil, 0o644))
	d.awaitProcess("worker:0", 10*time.Second, "healthy", func(p processStatus) bool { return p.Health == "healthy" })
	d.ctlOK("health")
}

// An exec check that outlives its timeout is killed, its children with it,
// and one that exits leaves nothing behind: what it left in its group is
// killed. All of it is reaped.
func TestExecCheckTimeoutKillsItsGroup(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asSubreaper, jobs: map[string]string{
		"slow": sleeper("health", rawJSON(`{"exec": ["/bin/sh", "-c", "sleep 300 & sleep 301"], "interval": 0.2, "timeout": 0.3, "retries": 1000}`)),
		"leaves": sleeper("cmd", []string{"/bin/sleep", "1001"},
			"health", rawJSON(`{"exec": ["/bin/sh", "-c", "sleep 302 & echo gone; exit 1"], "interval": 0.2, "timeout": 30, "retries": 1000}`)),
	}})
	p := d.awaitProcess("leaves:0", 10*time.Second, "failures", func(p processStatus) bool { return p.HealthFailures >= 3 })
	require.Equal(t, "exit status 1: gone", p.CheckError, "it failed when it exited, not at its timeout")
	d.ctlOK("stop", "leaves")
	p = d.awaitProcess("slow:0", 10*time.Second, "a timeout", func(p processStatus) bool { return p.CheckError != "" })
	require.Equal(t, "timed out after 300ms", p.CheckError)
	// Checks keep coming; what each left must go with it. At any moment at
	// most one check runs: its sh and two sleeps.
	d.awaitProcess("slow:0", 10*time.Second, "more failures", func(p processStatus) bool { return p.HealthFailures >= 3 })
	eventually(t, 10*time.Second, func() bool {
		n := 0
		for _, q := range descendants(d.pid) {
			if q.comm == "sleep" && q.state != "Z" {
				n++
			}
		}
		return n <= 3 // the job's sleep, and those of the check under way
	}, "exec checks' processes pile up: %v", descendants(d.pid))
	// Once the job is stopped, no check runs: nothing is left, not even
	// a zombie (the reaper reaps checks like everything else).
	d.ctlOK("stop", "slow")
	eventually(t, 10*time.Second, func() bool { return len(descendants(d.pid)) == 0 },
		"left below taskmasterd: %v", descendants(d.pid))
}

// comm is the command name of process pid.
func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// envOf returns the value of variable name in process pid's environment.
func envOf(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	require.NoError(t, err)
	for _, kv := range strings.Split(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}
