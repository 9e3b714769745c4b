// Package metrics exposes taskmasterd's state to Prometheus. It reads the
// supervisor at scrape time, so there is no second copy of the state to
// keep in step, and nothing runs between scrapes.
//
// The metric families are built as the Prometheus data model's own types
// (client_model) and written by the Prometheus exposition library
// (common/expfmt), which also negotiates the format with the scraper. The
// Go client (client_golang) is not linked: its registry and default
// collectors, built at every start of the program, cost taskmasterd about
// 90 page faults and 3 ms of its 21 ms start-up on the machine of
// docs/benchmarks.md, paid by every `docker run IMAGE -- CMD`, and 590 KB
// of the binary. The few process and Go runtime metrics it would add are
// read here instead (process.go).
package metrics

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/taskmaster/taskmaster/jobs"
)

// Supervisor is what the metrics are read from: *jobs.Supervisor.
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

// healths are the verdicts of health checks, every one of which is
// reported for a job with a health check.
var healths = []string{"checking", "healthy", "unhealthy"}

// Handler serves the metrics in the format the scraper asks for (the
// Prometheus text format by default): taskmasterd's own, and the standard
// process_* and go_* ones.
func Handler(src Sources) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), scrapeTimeout)
		defer cancel()
		families := append(gather(ctx, src), processFamilies()...)
		format := expfmt.Negotiate(r.Header)
		w.Header().Set("Content-Type", string(format))
		enc := expfmt.NewEncoder(w, format)
		for _, f := range families {
			if len(f.Metric) == 0 {
				continue
			}
			sortMetrics(f)
			if enc.Encode(f) != nil {
				return // the scraper has gone
			}
		}
		if c, ok := enc.(expfmt.Closer); ok {
			_ = c.Close()
		}
	})
}

// gather reads taskmasterd's own metrics. What cannot be read (the
// supervisor stopping) is left out, and the rest is served.
func gather(ctx context.Context, src Sources) []*dto.MetricFamily {
	build := gauge("taskmaster_build_info", "taskmasterd's version, as a label; the value is 1.")
	add(build, 1, "version", src.Version)
	families := []*dto.MetricFamily{build}
	if st, err := src.Supervisor.Status(ctx, ""); err == nil {
		families = append(families, jobFamilies(st)...)
	}
	if stats, err := src.Supervisor.Stats(ctx); err == nil {
		families = append(families, statsFamilies(stats)...)
	}
	if src.Reaped != nil {
		all, orphans := src.Reaped()
		reaped := counter("taskmaster_reaped_processes_total", "Processes reaped: jobs' processes and adopted orphans.")
		add(reaped, float64(all))
		orph := counter("taskmaster_reaped_orphans_total", "Adopted orphans reaped (processes taskmasterd did not start).")
		add(orph, float64(orphans))
		families = append(families, reaped, orph)
	}
	if src.Connections != nil {
		conns := gauge("taskmaster_connections", "Open connections by listener.")
		for listener, n := range src.Connections() {
			add(conns, float64(n), "listener", listener)
		}
		families = append(families, conns)
	}
	return families
}

// jobFamilies are the families read from the jobs' status.
func jobFamilies(st []jobs.JobStatus) []*dto.MetricFamily {
	instances := gauge("taskmaster_instances", "Instances of a job in each state.")
	health := gauge("taskmaster_instances_health",
		"Instances of a job with a health check, by its verdict: checking, healthy or unhealthy.")
	healthy := gauge("taskmaster_job_healthy", "1 when the job passes the health check of taskmasterctl health and /healthz, else 0.")
	valid := gauge("taskmaster_job_file_valid", "1 when the job file on disk is the one in use, 0 when it is invalid.")
	for _, j := range st {
		byState := make(map[string]int, len(states))
		byHealth := make(map[string]int, len(healths))
		for _, p := range j.Processes {
			byState[p.State]++
			byHealth[p.Health]++
		}
		for _, s := range states {
			add(instances, float64(byState[s]), "job", j.Name, "state", s)
		}
		if j.Health != "" { // a job with a health check: 0 for each verdict while none runs
			for _, h := range healths {
				add(health, float64(byHealth[h]), "health", h, "job", j.Name)
			}
		}
		add(healthy, bool01(j.Passes()), "job", j.Name)
		add(valid, bool01(j.Error == ""), "job", j.Name)
	}
	return []*dto.MetricFamily{instances, health, healthy, valid}
}

// statsFamilies are the counters of the supervisor's statistics.
func statsFamilies(stats jobs.Stats) []*dto.MetricFamily {
	restarts := counter("taskmaster_restarts_total", "Automatic restarts of a job's processes (retries and autorestarts).")
	exits := counter("taskmaster_process_exits_total", "Processes of a job that ended, for whatever reason.")
	failures := counter("taskmaster_check_failures_total", "Ready and health checks (tcp, http, exec) of a job that failed.")
	for job, js := range stats.Jobs {
		add(restarts, float64(js.Restarts), "job", job)
		add(exits, float64(js.Exits), "job", job)
		add(failures, float64(js.CheckFailures), "job", job)
	}
	fileErrors := counter("taskmaster_job_file_errors_total", "Job files a reload found invalid.")
	add(fileErrors, float64(stats.FileErrors))
	return []*dto.MetricFamily{restarts, exits, failures, fileErrors}
}

func gauge(name, help string) *dto.MetricFamily {
	return family(name, help, dto.MetricType_GAUGE)
}

func counter(name, help string) *dto.MetricFamily {
	return family(name, help, dto.MetricType_COUNTER)
}

func family(name, help string, t dto.MetricType) *dto.MetricFamily {
	return &dto.MetricFamily{Name: &name, Help: &help, Type: &t}
}

// add adds a sample to f, with labels given as name, value pairs in the
// order of their names (the order of the exposition).
func add(f *dto.MetricFamily, v float64, labels ...string) {
	m := &dto.Metric{}
	for i := 0; i+1 < len(labels); i += 2 {
		m.Label = append(m.Label, &dto.LabelPair{Name: &labels[i], Value: &labels[i+1]})
	}
	switch f.GetType() {
	case dto.MetricType_COUNTER:
		m.Counter = &dto.Counter{Value: &v}
	default:
		m.Gauge = &dto.Gauge{Value: &v}
	}
	f.Metric = append(f.Metric, m)
}

// sortMetrics orders f's samples by their labels' values, as a registry
// does, so that a scrape reads the same from one time to the next.
func sortMetrics(f *dto.MetricFamily) {
	slices.SortStableFunc(f.Metric, func(a, b *dto.Metric) int {
		for i := range min(len(a.Label), len(b.Label)) {
			if c := cmp.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
				return c
			}
		}
		return cmp.Compare(len(a.Label), len(b.Label))
	})
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
