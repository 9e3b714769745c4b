package e2e

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// A scripted client does the handshake, lists the jobs, stops one and
// sees its instances' job_update_events before the response, and gets
// {seq, error} for an unknown job.
func TestLinkHandshakeListStop(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"web": sleeper("numprocs", 2), "idle": sleeper("autostart", false),
	}})
	d.awaitStates("web", 10*time.Second, "RUNNING", "RUNNING")
	lc := d.dialLink()
	require.Equal(t, "ready", lc.register("").Type)

	seq := lc.send("list_jobs_request", struct{}{})
	m, _ := lc.until("list_jobs_response")
	list := linkData[struct {
		Seq       int64 `json:"seq"`
		Jobs      []struct{ Name string }
		Instances []linkInstance `json:"instances"`
	}](t, m)
	require.Equal(t, seq, list.Seq)
	require.Len(t, list.Jobs, 2)
	pids := map[string]int{}
	for _, in := range list.Instances {
		if in.Job == "web" {
			require.Equal(t, "RUNNING", in.State)
			pids[in.Instance] = in.Pid
		}
	}
	require.Len(t, pids, 2)
	hostPids := map[string]int{}
	for inst, pid := range pids {
		hostPids[inst] = d.hostPids([]int{pid})[0]
	}

	seq = lc.send("stop_job_request", map[string]string{"job": "web"})
	m, before := lc.until("stop_job_response")
	require.Equal(t, map[string]any{"seq": float64(seq), "result": "success"}, linkData[map[string]any](t, m))
	stopped := map[string]bool{}
	for _, ev := range before {
		require.Equal(t, "job_update_event", ev.Type)
		in := linkData[linkInstance](t, ev)
		if in.State == "STOPPED" {
			require.Equal(t, "STOPPING", in.From)
			stopped[in.Instance] = true
		}
	}
	require.Equal(t, map[string]bool{"web:0": true, "web:1": true}, stopped)
	for inst, pid := range hostPids {
		require.False(t, alive(pid), "%s still runs", inst)
	}

	seq = lc.send("start_job_request", map[string]string{"job": "nosuch"})
	m, _ = lc.until("start_job_response")
	e := linkData[map[string]any](t, m)
	require.Equal(t, float64(seq), e["seq"])
	require.Contains(t, e["error"], "nosuch")
}

// A wrong token gets close with the reason; the right one gets ready.
func TestLinkToken(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asSubreaper, env: []string{"TASKMASTER_TOKEN=s3cret"}})
	lc := d.dialLink()
	m := lc.register("guess")
	require.Equal(t, "close", m.Type)
	require.Equal(t, "authentication failed: bad token", linkData[map[string]string](t, m)["reason"])
	lc = d.dialLink()
	require.Equal(t, "ready", lc.register("s3cret").Type)

	code, _ := d.httpGet("/metrics", nil)
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := d.httpGet("/metrics", http.Header{"Authorization": {"Bearer s3cret"}})
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "taskmaster_build_info")
}

// A page of another site cannot open the link (cross-site WebSocket
// hijacking); a page of taskmasterd's own origin can.
func TestLinkRefusesOtherOrigins(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asSubreaper})
	upgrade := func(origin string) int {
		req, err := http.NewRequest("GET", "http://"+d.http+"/api/socket", nil)
		require.NoError(t, err)
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusForbidden, upgrade("http://evil.example"))
	require.Equal(t, http.StatusSwitchingProtocols, upgrade("http://"+d.http))
}

// A page whose own name its site pointed at 127.0.0.1 (DNS rebinding) is
// of the same origin as its link, so the origin check lets it through;
// without a token, its register_control is refused for the name, and so
// is /metrics. Under an address, the same page is served.
func TestLinkRefusesRebindingNames(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asSubreaper})
	_, port, err := net.SplitHostPort(d.http)
	require.NoError(t, err)
	host := "evil.example:" + port
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+d.http+"/api/socket",
		&websocket.DialOptions{Host: host, HTTPHeader: http.Header{"Origin": {"http://" + host}}})
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	lc := &linkClient{t: t, c: c}
	require.Equal(t, "hello", lc.next().Type)
	m := lc.register("")
	require.Equal(t, "close", m.Type)
	require.Contains(t, linkData[map[string]string](t, m)["reason"], `host "evil.example:`+port+`" is not one of taskmasterd's names`)

	req, err := http.NewRequest("GET", "http://"+d.http+"/metrics", nil)
	require.NoError(t, err)
	req.Host = host
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "ready", d.dialLink().register("").Type)
}

// A client that never reads is cut off while a client that reads keeps
// receiving events. The deaf client follows the output of a job that
// writes about 2 MB a second for as long as it runs, so that the socket's
// buffers (4 MiB at most here) fill within seconds whatever the machine's
// load; then a message waits on it for the write timeout and taskmasterd
// drops it. The output goes to /dev/null, and to the instance's buffer.
func TestLinkClientThatNeverReadsIsCutOff(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asSubreaper, jobs: map[string]string{
		"spew": sleeper("cmd", shArgv("while :; do seq 1 20000; sleep 0.05; done"), "stdout", "/dev/null"),
		"web":  sleeper(),
	}})
	d.awaitStates("web", 10*time.Second, "RUNNING")
	good := d.dialLink()
	require.Equal(t, "ready", good.register("").Type)

	deaf := rawLinkClient(t, d.http)
	deaf.send("subscribe_output_request", map[string]string{"job": "spew:0"})
	deaf.until("subscribe_output_response") // its last read

	eventually(t, 60*time.Second, func() bool {
		return strings.Contains(d.stderr.String(), "live link client not reading: dropped")
	}, "the client that never reads was not dropped")
	lines := d.metrics()
	require.Equal(t, 1.0, lines[`taskmaster_connections{listener="link"}`])

	good.send("stop_job_request", map[string]string{"job": "web"})
	for {
		m, _ := good.until("job_update_event")
		if in := linkData[linkInstance](t, m); in.Instance == "web:0" {
			require.Equal(t, "STOPPING", in.State)
			break
		}
	}
}

// /metrics is the Prometheus text format, and its values follow what
// happens: instances by state, restarts, exits, reaped processes.
func TestMetrics(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"web": sleeper("numprocs", 3, "autorestart", true),
	}})
	d.awaitStates("web", 10*time.Second, "RUNNING", "RUNNING", "RUNNING")
	m := d.metrics()
	require.Equal(t, 3.0, m[`taskmaster_instances{job="web",state="RUNNING"}`])
	require.Equal(t, 0.0, m[`taskmaster_instances{job="web",state="STOPPED"}`])
	require.Equal(t, 0.0, m[`taskmaster_restarts_total{job="web"}`])
	require.Equal(t, 1.0, m[`taskmaster_job_healthy{job="web"}`])

	// A process of web crashes: it is restarted, and counted.
	require.NoError(t, syscall.Kill(d.hostPidOf("web:1"), syscall.SIGKILL))
	eventually(t, 10*time.Second, func() bool {
		m = d.metrics()
		return m[`taskmaster_restarts_total{job="web"}`] == 1 && m[`taskmaster_instances{job="web",state="RUNNING"}`] == 3
	}, "the restart was not counted: %v", m)
	require.Equal(t, 1.0, m[`taskmaster_process_exits_total{job="web"}`])
	require.GreaterOrEqual(t, m[`taskmaster_reaped_processes_total`], 1.0)

	d.ctlOK("stop", "web")
	m = d.metrics()
	require.Equal(t, 3.0, m[`taskmaster_instances{job="web",state="STOPPED"}`])
	require.Equal(t, 4.0, m[`taskmaster_process_exits_total{job="web"}`])
	require.Contains(t, m, "process_resident_memory_bytes")
	require.Contains(t, m, "go_goroutines")
}

// /healthz answers 200 while every job is well, and 503 once a job has
// failed: a job that exited unexpectedly, and a critical job whose end
// shuts taskmasterd down (a job that ignores its stop signal keeps the
// shutdown going while the probe looks).
func TestHealthz(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asSubreaper, jobs: map[string]string{
		"web":  sleeper(),
		"db":   sleeper("autorestart", false),
		"app":  sleeper("critical", true, "autorestart", false),
		"slow": sleeper("cmd", shArgv("trap '' TERM; exec sleep 1000"), "stoptime", 60),
	}})
	for _, job := range []string{"web", "db", "app", "slow"} { // started one after the other
		d.awaitStates(job, 10*time.Second, "RUNNING")
	}
	code, body := d.httpGet("/healthz", nil)
	require.Equal(t, http.StatusOK, code, body)
	require.JSONEq(t, `{"status":"ok"}`, body)

	require.NoError(t, syscall.Kill(d.hostPidOf("db:0"), syscall.SIGKILL))
	d.awaitStates("db", 10*time.Second, "EXITED")
	code, body = d.httpGet("/healthz", nil)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.JSONEq(t, `{"status":"unhealthy","unhealthy":["db"]}`, body)

	require.NoError(t, syscall.Kill(d.hostPidOf("app:0"), syscall.SIGKILL))
	eventually(t, 10*time.Second, func() bool {
		code, body = d.httpGet("/healthz", nil)
		// The shutdown may begin a moment before the status shows the
		// critical job's end: wait for both.
		return strings.Contains(body, `"stopping"`) && strings.Contains(body, `"unhealthy":["app",`)
	}, "the critical job's end did not show: %d %s", code, body)
	require.Equal(t, http.StatusServiceUnavailable, code)
	require.Contains(t, body, `"unhealthy":["app",`) // and every job being stopped
	d.signal(syscall.SIGTERM)                        // hurry the shutdown: slow is SIGKILLed
	require.Equal(t, 128+int(syscall.SIGKILL), d.wait(20*time.Second), "the critical job's code")
}

// metrics scrapes /metrics and parses it with the Prometheus text parser,
// into values by series ("name{label=\"v\"}").
func (d *daemon) metrics() map[string]float64 {
	d.t.Helper()
	code, body := d.httpGet("/metrics", nil)
	require.Equal(d.t, http.StatusOK, code)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(d.t, err)
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := name
			if len(m.GetLabel()) > 0 {
				var labels []string
				for _, l := range m.GetLabel() {
					labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
				}
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			default:
				out[key] = 0
			}
		}
	}
	return out
}

// rawLinkClient registers a client on a socket with a tiny receive
// buffer; the test then reads nothing more from it.
func rawLinkClient(t *testing.T, addr string) *linkClient {
	t.Helper()
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/api/socket", &websocket.DialOptions{HTTPClient: client})
	require.NoError(t, err)
	t.Cleanup(func() { c.CloseNow() })
	lc := &linkClient{t: t, c: c}
	require.Equal(t, "hello", lc.next().Type)
	require.Equal(t, "ready", lc.register("").Type)
	return lc
}

// Nothing listens beyond loopback without a token or an allowlist: an HTTP
// address on every interface is refused at start, with the reason, and
// nothing is left listening; with the token it starts, and the link wants
// the token.
func TestHTTPBeyondLoopbackNeedsAToken(t *testing.T) {
	port := freePort(t)
	d := startDaemon(t, daemonOpts{mode: asSubreaper, args: []string{"-http", "0.0.0.0:" + strconv.Itoa(port)}})
	require.Equal(t, 1, d.wait(10*time.Second), "cannot start")
	require.Contains(t, d.stderr.String(), "-http: listen address")
	require.Contains(t, d.stderr.String(), "reachable from other machines")

	d = startListening(t, daemonOpts{mode: asSubreaper, env: []string{"TASKMASTER_TOKEN=s3cret"},
		args: []string{"-http", "0.0.0.0:" + strconv.Itoa(port)}})
	lc := dialLinkAt(t, "127.0.0.1:"+strconv.Itoa(port))
	m := lc.register("")
	require.Equal(t, "close", m.Type)
	require.Contains(t, linkData[map[string]string](t, m)["reason"], "authentication required")
}
