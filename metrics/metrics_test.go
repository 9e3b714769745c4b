package metrics

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
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

// families scrapes the handler with an Accept header and decodes the
// answer with the Prometheus exposition library, which is how a scraper
// reads it.
func families(t *testing.T, sup Supervisor, accept string) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/metrics", nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	Handler(Sources{Supervisor: sup, Version: "v1.2.3"}).ServeHTTP(rec, req)
	require.Equal(t, 200, rec.Code)
	format := expfmt.ResponseFormat(rec.Result().Header)
	dec := expfmt.NewDecoder(rec.Result().Body, format)
	out := map[string]*dto.MetricFamily{}
	for {
		var f dto.MetricFamily
		err := dec.Decode(&f)
		if err == io.EOF {
			return out
		}
		require.NoError(t, err, "a scraper could not read the %s answer", format)
		out[f.GetName()] = &f
	}
}

func value(t *testing.T, fams map[string]*dto.MetricFamily, name string) float64 {
	t.Helper()
	f, ok := fams[name]
	require.True(t, ok, "no %s", name)
	require.Len(t, f.Metric, 1, name)
	m := f.Metric[0]
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}

// The process and Go metrics say what the kernel and the runtime say:
// files opened show in process_open_fds, the start time is the test's
// process's, the resident size is not zero.
func TestProcessMetrics(t *testing.T) {
	testStart := time.Now()
	before := families(t, &fakeSup{}, "")
	var opened []*os.File
	for i := range 10 {
		f, err := os.Create(filepath.Join(t.TempDir(), strconv.Itoa(i)))
		require.NoError(t, err)
		opened = append(opened, f)
	}
	t.Cleanup(func() {
		for _, f := range opened {
			f.Close()
		}
	})
	after := families(t, &fakeSup{}, "")
	require.Equal(t, value(t, before, "process_open_fds")+10, value(t, after, "process_open_fds"))

	start := value(t, after, "process_start_time_seconds")
	require.LessOrEqual(t, start, float64(testStart.Unix()+1), "the process started before the test")
	require.Greater(t, start, float64(testStart.Add(-10*time.Minute).Unix()), "the test binary is not that old")
	require.Greater(t, value(t, after, "process_resident_memory_bytes"), float64(1<<20))
	require.GreaterOrEqual(t, value(t, after, "process_virtual_memory_bytes"), value(t, after, "process_resident_memory_bytes"))
	// The kernel counts CPU time in clock ticks (10 ms): a test process
	// fresh enough may have used none yet. Burn some first.
	burned := cpuBurnedAtLeast(t, 50*time.Millisecond)
	cpu := value(t, families(t, &fakeSup{}, ""), "process_cpu_seconds_total")
	require.GreaterOrEqual(t, cpu, burned.Seconds()-0.02, "two ticks of rounding at most")
	require.Greater(t, value(t, after, "process_max_fds"), value(t, after, "process_open_fds"))
	require.GreaterOrEqual(t, value(t, after, "go_goroutines"), 1.0)
	require.Greater(t, value(t, after, "go_memstats_heap_alloc_bytes"), 0.0)
	require.Equal(t, runtime.Version(), after["go_info"].Metric[0].Label[0].GetValue())
	require.Equal(t, "v1.2.3", after["taskmaster_build_info"].Metric[0].Label[0].GetValue())
}

// A scraper that asks for the protobuf format gets it, with the same
// families as the text.
func TestMetricsFormatIsNegotiated(t *testing.T) {
	sup := &fakeSup{st: []jobs.JobStatus{{Name: "web", Processes: []jobs.ProcessStatus{{Name: "web:0", State: "RUNNING"}}}}}
	text := families(t, sup, "")
	proto := families(t, sup, "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited")
	require.Equal(t, len(text), len(proto))
	require.Len(t, proto["taskmaster_instances"].Metric, len(states))
}

// Samples come in the order of their labels' values, the same at every
// scrape, whatever the order of the jobs.
func TestMetricsAreSorted(t *testing.T) {
	sup := &fakeSup{stats: jobs.Stats{Jobs: map[string]jobs.JobStats{"b": {}, "c": {}, "a": {}}}}
	out := scrape(t, sup)
	a := `taskmaster_restarts_total{job="a"} 0` + "\n"
	b := `taskmaster_restarts_total{job="b"} 0` + "\n"
	c := `taskmaster_restarts_total{job="c"} 0` + "\n"
	require.Contains(t, out, a+b+c)
}

// cpuBurnedAtLeast spins until this process has used at least d of CPU,
// as getrusage counts it, and returns what it has used.
func cpuBurnedAtLeast(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ru syscall.Rusage
		require.NoError(t, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
		used := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		if used >= d {
			return used
		}
		require.True(t, time.Now().Before(deadline), "used %v of CPU in 30 s", used)
		for i := 0; i < 1e6; i++ {
			sink += i
		}
	}
}

var sink int
