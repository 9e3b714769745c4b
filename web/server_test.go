package web

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs"
)

func get(t *testing.T, url string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(body)
}

func serve(t *testing.T, s *Server) string {
	t.Helper()
	ts := httptest.NewUnstartedServer(s.Handler())
	ts.Config.ConnContext = ConnContext
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.URL
}

func statusOf(st ...jobs.JobStatus) func(context.Context) ([]jobs.JobStatus, error) {
	return func(context.Context) ([]jobs.JobStatus, error) { return st, nil }
}

// /healthz applies the health rule: a job whose file is invalid, or an
// autostart job that is not where it should be, fails it; a job that is
// not started automatically does not.
func TestHealthz(t *testing.T) {
	ok := jobs.JobStatus{Name: "web", AutoStart: true, Healthy: true}
	manual := jobs.JobStatus{Name: "tool", AutoStart: false, Healthy: false}
	failed := jobs.JobStatus{Name: "db", AutoStart: true, Healthy: false}
	invalid := jobs.JobStatus{Name: "typo", Error: "typo.tm.json:1:2: ..."}
	for _, tc := range []struct {
		jobs []jobs.JobStatus
		code int
		body string
	}{
		{[]jobs.JobStatus{ok, manual}, 200, `{"status":"ok"}`},
		{[]jobs.JobStatus{ok, failed}, 503, `{"status":"unhealthy","unhealthy":["db"]}`},
		{[]jobs.JobStatus{invalid, ok}, 503, `{"status":"unhealthy","unhealthy":["typo"]}`},
		{[]jobs.JobStatus{ok}, 503, `{"status":"stopping"}`},
	} {
		stopping := func() bool { return tc.body == `{"status":"stopping"}` }
		url := serve(t, &Server{Status: statusOf(tc.jobs...), Stopping: stopping})
		code, h, body := get(t, url+"/healthz", nil)
		require.Equal(t, tc.code, code)
		require.JSONEq(t, tc.body, body)
		require.Equal(t, "application/json", h.Get("Content-Type"))
	}
}

// With a token, /healthz tells only whether; /metrics wants the token.
func TestTokenGuardsDetails(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "m 1\n") })
	url := serve(t, &Server{Status: statusOf(jobs.JobStatus{Name: "db", AutoStart: true}), Metrics: metrics, Token: "s3cret"})
	code, _, body := get(t, url+"/healthz", nil)
	require.Equal(t, 503, code)
	require.JSONEq(t, `{"status":"unhealthy"}`, body)
	_, _, body = get(t, url+"/healthz", map[string]string{"Authorization": "Bearer s3cret"})
	require.JSONEq(t, `{"status":"unhealthy","unhealthy":["db"]}`, body)

	code, h, _ := get(t, url+"/metrics", nil)
	require.Equal(t, 401, code)
	require.Contains(t, h.Get("WWW-Authenticate"), "Bearer")
	code, _, _ = get(t, url+"/metrics", map[string]string{"Authorization": "Bearer guess"})
	require.Equal(t, 401, code)
	code, _, body = get(t, url+"/metrics", map[string]string{"Authorization": "Bearer s3cret"})
	require.Equal(t, 200, code)
	require.Equal(t, "m 1\n", body)
}

// A connection the admission check refuses gets 403 and the reason, on
// every path.
func TestAdmitRefuses(t *testing.T) {
	checks := 0
	url := serve(t, &Server{Status: statusOf(), Admit: func(nc net.Conn) string {
		checks++
		return "permission denied: uid 65534 may not control taskmasterd"
	}})
	for _, path := range []string{"/", "/healthz", "/metrics", "/api/socket"} {
		code, _, body := get(t, url+path, nil)
		require.Equal(t, 403, code, path)
		require.Contains(t, body, "uid 65534")
	}
	require.NotZero(t, checks)
}

// The dashboard is embedded, and served so that it cannot be framed or
// sniffed.
func TestDashboardIsServed(t *testing.T) {
	url := serve(t, &Server{Status: statusOf()})
	for _, path := range []string{"/", "/app.js", "/style.css"} {
		code, h, body := get(t, url+path, nil)
		require.Equal(t, 200, code, path)
		require.NotEmpty(t, body)
		require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
		require.Equal(t, "DENY", h.Get("X-Frame-Options"))
		require.True(t, strings.HasPrefix(h.Get("Content-Security-Policy"), "default-src 'self'"))
	}
}
