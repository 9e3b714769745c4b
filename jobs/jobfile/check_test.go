package jobfile

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseChecks(t *testing.T) {
	tests := []struct {
		name string
		data string
		want func(s *Spec) *Probe // the Probe the file must give
	}{
		{"ready tcp with defaults", `{"cmd":"x","ready":{"tcp":"127.0.0.1:5432"}}`,
			func(s *Spec) *Probe { return s.Ready }},
		{"ready http with a status range", `{"cmd":"x","ready":{"http":"http://127.0.0.1:8080/healthz","status":[200,399],"interval":0.5,"timeout":2,"deadline":0}}`,
			func(s *Spec) *Probe { return s.Ready }},
		{"ready exec as a command line", `{"cmd":"x","ready":{"exec":"pg_isready -q -h 'local host'"}}`,
			func(s *Spec) *Probe { return s.Ready }},
		{"ready notify with a watchdog", `{"cmd":"x","ready":{"notify":true,"watchdog_sec":1.5,"deadline":90}}`,
			func(s *Spec) *Probe { return s.Ready }},
		{"ready notify_fd", `{"cmd":"x","ready":{"notify_fd":3}}`,
			func(s *Spec) *Probe { return s.Ready }},
		{"health with defaults", `{"cmd":"x","health":{"exec":["curl","-fs","localhost"]}}`,
			func(s *Spec) *Probe { return s.Health }},
		{"health http, one status, ignore", `{"cmd":"x","health":{"http":"https://[::1]:8443/","status":204,"retries":5,"on_unhealthy":"ignore","interval":30}}`,
			func(s *Spec) *Probe { return s.Health }},
	}
	want := []Probe{
		{Kind: ProbeTCP, Addr: "127.0.0.1:5432", Interval: time.Second, Timeout: 5 * time.Second, Deadline: time.Minute},
		{Kind: ProbeHTTP, URL: "http://127.0.0.1:8080/healthz", StatusMin: 200, StatusMax: 399, Interval: 500 * time.Millisecond, Timeout: 2 * time.Second},
		{Kind: ProbeExec, Cmd: []string{"pg_isready", "-q", "-h", "local host"}, Interval: time.Second, Timeout: 5 * time.Second, Deadline: time.Minute},
		{Kind: ProbeNotify, Watchdog: 1500 * time.Millisecond, Interval: time.Second, Timeout: 5 * time.Second, Deadline: 90 * time.Second},
		{Kind: ProbeNotifyFD, FD: 3, Interval: time.Second, Timeout: 5 * time.Second, Deadline: time.Minute},
		{Kind: ProbeExec, Cmd: []string{"curl", "-fs", "localhost"}, Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 3},
		{Kind: ProbeHTTP, URL: "https://[::1]:8443/", StatusMin: 204, StatusMax: 204, Interval: 30 * time.Second, Timeout: 5 * time.Second, Retries: 5, Unhealthy: UnhealthyIgnore},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.data)
			require.Equal(t, want[i], *tt.want(s))
			require.True(t, s.Equal(mustParse(t, tt.data)))
			require.False(t, s.Equal(mustParse(t, `{"cmd":"x"}`)))
		})
	}
	require.Nil(t, mustParse(t, `{"cmd":"x"}`).Ready)
	require.Nil(t, mustParse(t, `{"cmd":"x"}`).Health)
}

// TestParseInvalidChecks checks where each problem of a check is reported
// (the nested key, when there is one) and what it says.
func TestParseInvalidChecks(t *testing.T) {
	tests := []struct {
		name      string
		member    string // line 3 of the file
		key       string
		line, col int
		msg       string
	}{
		{"not an object", `"ready": "tcp://x"`, "ready", 3, 12, `expected an object like {"tcp": "127.0.0.1:5432"}, got "tcp://x"`},
		{"no kind", `"ready": {"interval": 1}`, "ready", 3, 12, "expected one of tcp, http, exec, notify, notify_fd to say what to check"},
		{"health has no notify", `"health": {"interval": 1}`, "health", 3, 13, "expected one of tcp, http, exec to say what to check"},
		{"two kinds", `"ready": {"tcp": "a:1", "http": "http://a"}`, "ready", 3, 27, `http: "tcp" is set too: a check has one kind`},
		{"notify in health", `"health": {"notify": true}`, "health", 3, 14, "notify: the process tells its readiness itself, so this is a ready check"},
		{"tcp without port", `"ready": {"tcp": "localhost"}`, "ready", 3, 20, `tcp: expected a "host:port" address`},
		{"tcp bad port", `"ready": {"tcp": "localhost:http"}`, "ready", 3, 20, `tcp: the port of "localhost:http" must be a number from 1 to 65535`},
		{"tcp no host", `"ready": {"tcp": ":80"}`, "ready", 3, 20, `tcp: expected a "host:port" address`},
		{"http scheme", `"ready": {"http": "ftp://x/"}`, "ready", 3, 21, "http: expected an http:// or https:// URL"},
		{"exec empty", `"ready": {"exec": []}`, "ready", 3, 21, "exec: expected at least the program"},
		{"exec shell", `"health": {"exec": "curl $URL"}`, "health", 3, 22, "exec: unquoted '$'"},
		{"notify false", `"ready": {"notify": false}`, "ready", 3, 23, "notify: expected true (leave ready out for no ready check)"},
		{"notify_fd 1", `"ready": {"notify_fd": 1}`, "ready", 3, 26, "notify_fd: expected an integer from 3 to 255, got 1 (0, 1 and 2 are"},
		{"status out of range", `"ready": {"http": "http://a/", "status": 700}`, "ready", 3, 44, "status: expected an HTTP status from 100 to 599"},
		{"status reversed", `"ready": {"http": "http://a/", "status": [399, 200]}`, "ready", 3, 44, "status: the range [399, 200] is empty"},
		{"status for tcp", `"ready": {"tcp": "a:1", "status": 200}`, "ready", 3, 27, "status: does not apply to a tcp check"},
		{"interval zero", `"health": {"tcp": "a:1", "interval": 0}`, "health", 3, 40, "interval: expected at least 0.01 seconds, got 0"},
		{"timeout zero", `"health": {"tcp": "a:1", "timeout": 0}`, "health", 3, 39, "timeout: expected more than 0 seconds, got 0"},
		{"interval for notify", `"ready": {"notify": true, "interval": 1}`, "ready", 3, 29, "interval: does not apply to a notify check"},
		{"watchdog for tcp", `"ready": {"tcp": "a:1", "watchdog_sec": 1}`, "ready", 3, 27, "watchdog_sec: does not apply to a tcp check"},
		{"deadline in health", `"health": {"tcp": "a:1", "deadline": 5}`, "health", 3, 28, "deadline: applies to ready checks only"},
		{"retries in ready", `"ready": {"tcp": "a:1", "retries": 5}`, "ready", 3, 27, "retries: applies to health checks only"},
		{"retries zero", `"health": {"tcp": "a:1", "retries": 0}`, "health", 3, 39, "retries: expected an integer from 1 to 1000, got 0"},
		{"on_unhealthy typo", `"health": {"tcp": "a:1", "on_unhealthy": "restrat"}`, "health", 3, 44, `on_unhealthy: expected "restart" or "ignore", got "restrat" (did you mean "restart"?)`},
		{"unknown key near", `"health": {"tcp": "a:1", "intervall": 5}`, "health", 3, 28, `intervall: unknown key (did you mean "interval"?)`},
		{"unknown key far", `"health": {"tcp": "a:1", "port": 5}`, "health", 3, 28, "port: unknown key (a tcp health check has interval, timeout, retries, on_unhealthy)"},
		{"duplicate key", `"health": {"tcp": "a:1", "retries": 1, "retries": 2}`, "health", 3, 42, "retries: duplicate key"},
		{"top-level typo", `"healthcheck": {"tcp": "a:1"}`, "healthcheck", 3, 3, `unknown key (did you mean "health"?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(testPath, []byte(job(tt.member)))
			errs := flatten(err)
			require.Len(t, errs, 1, "errors: %v", err)
			e := errs[0]
			require.Equal(t, tt.key, e.Key)
			require.Equal(t, []int{tt.line, tt.col}, []int{e.Line, e.Col}, "position of %v", e)
			require.Contains(t, e.Msg, tt.msg)
		})
	}
}

func TestCheckTarget(t *testing.T) {
	for _, tt := range []struct {
		p    Probe
		want string
	}{
		{Probe{Kind: ProbeTCP, Addr: "db:5432"}, "tcp db:5432"},
		{Probe{Kind: ProbeHTTP, URL: "http://a/b"}, "http http://a/b"},
		{Probe{Kind: ProbeExec, Cmd: []string{"pg_isready", "-q"}}, "exec pg_isready -q"},
		{Probe{Kind: ProbeNotify}, "notify"},
		{Probe{Kind: ProbeNotifyFD, FD: 4}, "notify_fd 4"},
	} {
		require.Equal(t, tt.want, tt.p.Target())
	}
	require.True(t, (&Probe{Kind: ProbeExec}).Polled())
	require.False(t, (&Probe{Kind: ProbeNotify}).Polled())
	require.False(t, (*Probe)(nil).Polled())
}
