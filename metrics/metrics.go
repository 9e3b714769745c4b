// Package metrics exposes taskmasterd's state to Prometheus. Its
// collector reads the supervisor at scrape time, so there is no second
// copy of the state to keep in step, and nothing runs between scrapes.
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/taskmaster/taskmaster/jobs"
)

// Supervisor is what the collector reads: *jobs.Supervisor.
type Supervisor interface {
	Status(ctx context.Context, target string) ([]jobs.JobStatus, error)
	Stats(ctx context.Context) (jobs.Stats, error)
}

// Sources are where the metrics come from.
type Sources struct {
	Supervisor Supervisor
	// Reaped returns the processes reaped: all of them, and the adopted
	// orphans among them.
	Reaped func() (all, orphans uint64)
	// Connections returns the open connections by listener ("control",
	// "link").
	Connections func() map[string]int
	// Version is taskmasterd's version.
	Version string
}

// scrapeTimeout bounds the reading of the supervisor during a scrape.
const scrapeTimeout = 5 * time.Second

// states are the instance states, every one of which is reported for
// every job (0 when none is in it), so that series do not come and go.
var states = []string{"STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL"}

var (
	descInstances = prometheus.NewDesc("taskmaster_instances",
		"Instances of a job in each state.", []string{"job", "state"}, nil)
	descHealth = prometheus.NewDesc("taskmaster_instances_health",
		"Instances of a job with a health check, by its verdict: checking, healthy or unhealthy.", []string{"job", "health"}, nil)
	descCheckFailures = prometheus.NewDesc("taskmaster_check_failures_total",
		"Ready and health checks (tcp, http, exec) of a job that failed.", []string{"job"}, nil)
	descHealthy = prometheus.NewDesc("taskmaster_job_healthy",
		"1 when the job passes the health check of taskmasterctl health and /healthz, else 0.", []string{"job"}, nil)
	descFileValid = prometheus.NewDesc("taskmaster_job_file_valid",
		"1 when the job file on disk is the one in use, 0 when it is invalid.", []string{"job"}, nil)
	descRestarts = prometheus.NewDesc("taskmaster_restarts_total",
		"Automatic restarts of a job's processes (retries and autorestarts).", []string{"job"}, nil)
	descExits = prometheus.NewDesc("taskmaster_process_exits_total",
		"Processes of a job that ended, for whatever reason.", []string{"job"}, nil)
	descFileErrors = prometheus.NewDesc("taskmaster_job_file_errors_total",
		"Job files a reload found invalid.", nil, nil)
	descReaped = prometheus.NewDesc("taskmaster_reaped_processes_total",
		"Processes reaped: jobs' processes and adopted orphans.", nil, nil)
	descOrphans = prometheus.NewDesc("taskmaster_reaped_orphans_total",
		"Adopted orphans reaped (processes taskmasterd did not start).", nil, nil)
	descConns = prometheus.NewDesc("taskmaster_connections",
		"Open connections by listener.", []string{"listener"}, nil)
	descBuild = prometheus.NewDesc("taskmaster_build_info",
		"taskmasterd's version, as a label; the value is 1.", []string{"version"}, nil)
)

// collector is a prometheus.Collector over Sources.
type collector struct{ src Sources }

// Handler serves the metrics in the Prometheus text format: taskmasterd's
// own, and the Go client's standard process and Go runtime ones.
func Handler(src Sources) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		&collector{src: src},
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInstances, descHealth, descCheckFailures, descHealthy, descFileValid, descRestarts,
		descExits, descFileErrors, descReaped, descOrphans, descConns, descBuild} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	ch <- prometheus.MustNewConstMetric(descBuild, prometheus.GaugeValue, 1, c.src.Version)
	if st, err := c.src.Supervisor.Status(ctx, ""); err == nil {
		collectJobs(ch, st)
	} else {
		ch <- prometheus.NewInvalidMetric(descInstances, err)
	}
	if stats, err := c.src.Supervisor.Stats(ctx); err == nil {
		for job, js := range stats.Jobs {
			ch <- prometheus.MustNewConstMetric(descRestarts, prometheus.CounterValue, float64(js.Restarts), job)
			ch <- prometheus.MustNewConstMetric(descExits, prometheus.CounterValue, float64(js.Exits), job)
			ch <- prometheus.MustNewConstMetric(descCheckFailures, prometheus.CounterValue, float64(js.CheckFailures), job)
		}
		ch <- prometheus.MustNewConstMetric(descFileErrors, prometheus.CounterValue, float64(stats.FileErrors))
	}
	if c.src.Reaped != nil {
		all, orphans := c.src.Reaped()
		ch <- prometheus.MustNewConstMetric(descReaped, prometheus.CounterValue, float64(all))
		ch <- prometheus.MustNewConstMetric(descOrphans, prometheus.CounterValue, float64(orphans))
	}
	if c.src.Connections != nil {
		for listener, n := range c.src.Connections() {
			ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(n), listener)
		}
	}
}

func collectJobs(ch chan<- prometheus.Metric, st []jobs.JobStatus) {
	for _, j := range st {
		count := make(map[string]int, len(states))
		for _, p := range j.Processes {
			count[p.State]++
		}
		for _, s := range states {
			ch <- prometheus.MustNewConstMetric(descInstances, prometheus.GaugeValue, float64(count[s]), j.Name, s)
		}
		collectHealth(ch, j)
		ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue,
			bool01(j.Passes()), j.Name)
		ch <- prometheus.MustNewConstMetric(descFileValid, prometheus.GaugeValue, bool01(j.Error == ""), j.Name)
	}
}

// healths are the verdicts of health checks, every one of which is
// reported for a job with a health check.
var healths = []string{"checking", "healthy", "unhealthy"}

// collectHealth reports how many instances of j have each verdict, for a
// job with a health check (0 for each while none runs).
func collectHealth(ch chan<- prometheus.Metric, j jobs.JobStatus) {
	if j.Health == "" {
		return
	}
	count := make(map[string]int, len(healths))
	for _, p := range j.Processes {
		count[p.Health]++
	}
	for _, h := range healths {
		ch <- prometheus.MustNewConstMetric(descHealth, prometheus.GaugeValue, float64(count[h]), j.Name, h)
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
