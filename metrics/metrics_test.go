package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs"
)

type fakeSup struct {
	st    []jobs.JobStatus
	stats jobs.Stats
}

func (f *fakeSup) Status(context.Context, string) ([]jobs.JobStatus, error) { return f.st, nil }
func (f *fakeSup) Stats(context.Context) (jobs.Stats, error)                { return f.stats, nil }

func scrape(t *testing.T, sup Supervisor) string {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(Sources{Supervisor: sup, Version: "test"}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, err := io.ReadAll(rec.Result().Body)
	require.NoError(t, err)
	return string(body)
}

// Health checks show as instance counts by verdict, for jobs that have
// one, and a job with an unhealthy instance is not healthy.
func TestHealthMetrics(t *testing.T) {
	sup := &fakeSup{
		st: []jobs.JobStatus{
			{Name: "web", State: "RUNNING", AutoStart: true, Healthy: false, Health: "http http://127.0.0.1/", Processes: []jobs.ProcessStatus{
				{Name: "web:0", State: "RUNNING", Health: "healthy"},
				{Name: "web:1", State: "RUNNING", Health: "unhealthy"},
				{Name: "web:2", State: "STARTING"},
			}},
			{Name: "plain", State: "RUNNING", AutoStart: true, Healthy: true, Processes: []jobs.ProcessStatus{{Name: "plain:0", State: "RUNNING"}}},
		},
		stats: jobs.Stats{Jobs: map[string]jobs.JobStats{"web": {CheckFailures: 7}}},
	}
	out := scrape(t, sup)
	for _, line := range []string{
		`taskmaster_instances_health{health="checking",job="web"} 0`,
		`taskmaster_instances_health{health="healthy",job="web"} 1`,
		`taskmaster_instances_health{health="unhealthy",job="web"} 1`,
		`taskmaster_job_healthy{job="web"} 0`,
		`taskmaster_job_healthy{job="plain"} 1`,
		`taskmaster_check_failures_total{job="web"} 7`,
	} {
		require.Contains(t, out, line+"\n")
	}
	require.NotContains(t, out, `taskmaster_instances_health{health="checking",job="plain"}`)
}
