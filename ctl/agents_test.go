package ctl

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// statusFleet is a fleet manager's status: a job of its own, one of a
// connected agent, one of a lost agent.
const statusFleet = `{"jobs":[` +
	`{"name":"proxy","state":"RUNNING","autostart":true,"critical":false,"healthy":true,"processes":[` +
	`{"name":"proxy:0","pid":42,"state":"RUNNING","since":"2026-11-21T20:00:00.123Z","restarts":0,"exit_code":null}]},` +
	`{"agent":"web-1","name":"web-1/nginx","state":"RUNNING","autostart":true,"critical":false,"healthy":true,"processes":[` +
	`{"name":"web-1/nginx:0","pid":7,"state":"RUNNING","since":"2026-11-21T20:00:00Z","restarts":0,"exit_code":null}]},` +
	`{"agent":"web-2","agent_state":"lost","name":"web-2/nginx","state":"FATAL","autostart":true,"critical":false,"healthy":false,"processes":[` +
	`{"name":"web-2/nginx:0","pid":0,"state":"FATAL","since":"2026-11-21T20:00:00Z","restarts":3,"exit_code":1}]}]}`

func TestStatusHasAnAgentColumnOnAManager(t *testing.T) {
	d := statusDaemon(t, statusFleet)
	want := "AGENT         NAME     STATE    PID  UPTIME  RESTARTS  EXIT  DETAIL\n" +
		"-             proxy:0  RUNNING  42   3m12s   0         -\n" +
		"web-1         nginx:0  RUNNING  7    3m12s   0         -\n" +
		"web-2 (lost)  nginx:0  FATAL    -    -       3         1\n"
	require.Equal(t, ran{want, "", 0}, d.run("status"))
}

func TestHealthOnAManagerIsItsOwnJobs(t *testing.T) {
	d := statusDaemon(t, statusFleet)
	require.Equal(t, ran{"healthy: 1 autostart job\n", "", 0}, d.run("health"))
}

func TestAgents(t *testing.T) {
	data := `{"agents":[` +
		`{"id":"web-1","address":"172.18.0.3:40000","state":"connected","since":"2026-11-21T20:03:00Z","connected_since":"2026-11-21T20:03:00Z","rtt_ms":0.42,"version":"v1.2","jobs":2,"running":2,"unhealthy":0},` +
		`{"id":"web-2","address":"172.18.0.4:40000","state":"lost","since":"2026-11-21T20:02:00Z","connected_since":"2026-11-21T19:00:00Z","rtt_ms":0.5,"version":"v1.2","reason":"no pong in time","jobs":1,"running":0,"unhealthy":1}]}`
	d := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response { return ctlproto.Status([]byte(data)) })
	want := "AGENT  ADDRESS           STATE      SINCE  RTT    VERSION  JOBS  RUNNING  UNHEALTHY  DETAIL\n" +
		"web-1  172.18.0.3:40000  connected  12s    0.4ms  v1.2     2     2        0\n" +
		"web-2  172.18.0.4:40000  lost       1m12s  -      v1.2     1     0        1          no pong in time\n"
	require.Equal(t, ran{want, "", 0}, d.run("agents"))
	require.Equal(t, []sent{req("agents", "", "")}, d.requests())
	require.Equal(t, ran{data + "\n", "", 0}, d.run("-json", "agents"))

	notManager := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response {
		return ctlproto.Failf("agents: this taskmasterd is not a fleet manager (-fleet-listen is off)")
	})
	got := notManager.run("agents")
	require.Equal(t, ExitFail, got.code)
	require.Contains(t, got.stderr, "not a fleet manager")
}
