package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// The scale section: taskmasterd far beyond the spawn section's N. For
// each N of b.scaleNs, fresh starts of taskmasterd with N instances (in
// jobs of up to 1,024, numprocs' limit), interleaved with the raw posix_spawn loop at the same N, give
// the spawn and stop times, the status of N instances, and what each
// instance costs (memory, descriptors, CPU) against taskmasterd with one
// instance started in the same run. A directory of b.reloadJobs job files
// then shows what a reload of the directory costs, and what a reload that
// changes one of the files costs. supervisord is left out: see
// docs/benchmarks.md.

// scaleSample is what one fresh taskmasterd with n instances measured.
type scaleSample struct {
	spawn      time.Duration // its exec until the last instance exec'd sleep
	stop       time.Duration // SIGTERM until its namespace is empty
	cpu        time.Duration // its CPU time, scaleSettle after the last exec
	rss, pss   uint64        // KiB
	anon       uint64        // KiB of anonymous memory (heap, stacks, runtime)
	heap       float64       // bytes of heap objects (go_memstats_heap_alloc_bytes)
	goroutines float64
	fds        int // open descriptors (/proc/PID/fd)
	threads    int
	statusCLI  []time.Duration // taskmasterctl status, output to /dev/null
	statusRPC  []time.Duration // one status request on a fresh connection
	cliBytes   int             // what taskmasterctl status prints
	replyBytes int             // the status reply's data (JSON)
}

// scaleResult is everything the section measured.
type scaleResult struct {
	one    []scaleSample         // taskmasterd with 1 instance, once a run
	tm     map[int][]scaleSample // by N
	raw    map[int][]float64     // the raw loop's spawn, ms, by N
	limits []string              // the limits raised, for the report
	reload reloadResult
}

// scale runs the section: the limits raised, b.scaleRuns runs of
// taskmasterd with 1 instance and, at each N, taskmasterd and the raw loop
// in alternating order, then the reloads.
func (b *bench) scale(ctx context.Context) (string, error) {
	maxN := 0
	for _, n := range b.scaleNs {
		maxN = max(maxN, n)
	}
	restore, raised, nofile, err := raiseLimits(maxN)
	if err != nil {
		return "", err
	}
	defer restore()
	r := scaleResult{tm: map[int][]scaleSample{}, raw: map[int][]float64{}, limits: raised}
	b.fitScale(nofile, &r)
	rawLoop := b.spawnContenders()[2]
	for run := range b.scaleRuns {
		progress("scale: run %d of %d, taskmasterd with 1 instance", run+1, b.scaleRuns)
		s, err := b.scaleTaskmasterd(ctx, 1, false)
		if err != nil {
			return "", err
		}
		r.one = append(r.one, s)
		for _, n := range b.scaleNs {
			for k := range 2 {
				if (run+k)%2 == 0 { // alternate who goes first
					progress("scale: N=%d, run %d of %d, taskmasterd", n, run+1, b.scaleRuns)
					s, err := b.scaleTaskmasterd(ctx, n, true)
					if err != nil {
						return "", err
					}
					r.tm[n] = append(r.tm[n], s)
					continue
				}
				progress("scale: N=%d, run %d of %d, %s", n, run+1, b.scaleRuns, rawLoop.name)
				d, _, err := b.spawnRun(ctx, rawLoop, n)
				if err != nil {
					return "", err
				}
				r.raw[n] = append(r.raw[n], ms([]time.Duration{d})[0])
			}
		}
	}
	if r.reload, err = b.reloads(ctx); err != nil {
		return "", err
	}
	return b.scaleReport(r), nil
}

// scaleSettle is how long after the last exec the section reads what
// taskmasterd holds: 1 s rather than the footprint section's 3, since the
// section starts taskmasterd 9 times; the spawn's work is done well before.
const scaleSettle = time.Second

// maxNumprocs is the most instances one job may have (jobs.md).
const maxNumprocs = 1024

// scaleJobs spreads n instances over as few jobs as numprocs allows, of
// per instances each; n must be a multiple of jobs (fitScale and the
// defaults make it one).
func scaleJobs(n int) (jobs, per int) {
	jobs = (n + maxNumprocs - 1) / maxNumprocs
	return jobs, n / jobs
}

// fdsPerInstance is what taskmasterd holds for each instance: the read
// ends of its stdout and stderr pipes (the section's cost table measures
// it).
const fdsPerInstance = 2

// fitScale lowers each N of b.scaleNs that taskmasterd could not run within
// nofile descriptors to the largest hundred that it can, and says so in the
// report: a container whose hard limit the benchmark cannot raise sets the
// ceiling of instances. It also rounds each N to a multiple of its number
// of jobs.
func (b *bench) fitScale(nofile uint64, r *scaleResult) {
	fit := (int(nofile) - 256) / fdsPerInstance
	for i, want := range b.scaleNs {
		n := want
		if n > fit {
			n = fit / 100 * 100
		}
		jobs, per := scaleJobs(n)
		b.scaleNs[i] = jobs * per
		if b.scaleNs[i] != want {
			r.limits = append(r.limits, fmt.Sprintf("**N = %d lowered to %d**: taskmasterd holds %d descriptors per instance, and the descriptor limit is %d", want, b.scaleNs[i], fdsPerInstance, nofile))
			progress("scale: N=%d lowered to %d (descriptor limit %d)", want, b.scaleNs[i], nofile)
		}
	}
}

// scaleTaskmasterd starts taskmasterd with n instances, times
// their spawn, measures its cost once they run, times its status (when
// status is set) and its stop.
func (b *bench) scaleTaskmasterd(ctx context.Context, n int, status bool) (scaleSample, error) {
	var out scaleSample
	var sup *supervisor
	launch := func(ready func(*proc) error) (*proc, error) {
		jobs, per := scaleJobs(n)
		s, err := b.startTaskmasterd("taskmasterd", taskmasterdJobs(jobs, per, `,"starttime":0`), ready)
		sup = s
		return procOf(s, err)
	}
	p, w, execs, err := startWatched(ctx, fmt.Sprintf("taskmasterd, N=%d", n), launch, "sleep", n, spawnDeadline(n))
	if err != nil {
		return out, err
	}
	defer p.stop()
	defer w.close()
	out.spawn = execs[n-1].at - p.exec
	// What the spawn left to do (reading the exits of nothing, a GC) is
	// done by now; nothing asks taskmasterd anything before the readings.
	if err := sleep(ctx, scaleSettle); err != nil {
		return out, err
	}
	if err := b.readCost(p, &out); err != nil {
		return out, err
	}
	if err := waitRunning(ctx, sup, n); err != nil {
		return out, err
	}
	if out.heap, out.goroutines, err = goMetrics(ctx, sup.http); err != nil {
		return out, err
	}
	if status {
		if err := b.timeStatus(ctx, sup, n, &out); err != nil {
			return out, err
		}
	}
	out.stop, err = stopTimed(ctx, p, fmt.Sprintf("taskmasterd, N=%d", n))
	return out, err
}

// readCost reads what taskmasterd p holds: CPU time, memory, descriptors
// and threads.
func (b *bench) readCost(p *proc, out *scaleSample) error {
	var err error
	if err = p.alive(); err != nil {
		return err
	}
	if out.cpu, err = cpuTime(p.pid); err != nil {
		return err
	}
	if out.rss, out.pss, err = memory(p.pid); err != nil {
		return err
	}
	out.anon = anonymous(p.pid)
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", p.pid))
	if err != nil {
		return err
	}
	out.fds, out.threads = len(fds), threads(p.pid)
	return nil
}

// timeStatus times b.scaleStatusRuns `taskmasterctl status` of n instances
// and as many bare requests, alternating, and records the sizes of what
// they return.
func (b *bench) timeStatus(ctx context.Context, sup *supervisor, n int, out *scaleSample) error {
	cli, err := exec.CommandContext(ctx, sup.ctl[0], sup.ctl[1:]...).Output()
	if err != nil {
		return fmt.Errorf("%s: %w", strings.Join(sup.ctl, " "), err)
	}
	// A line per instance, and the job's: a status that printed less would
	// time less work.
	if lines := strings.Count(string(cli), "\n"); lines < n {
		return fmt.Errorf("taskmasterctl status printed %d lines for %d instances", lines, n)
	}
	out.cliBytes = len(cli)
	for range b.scaleStatusRuns {
		d, err := timeRun(sup.ctl, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", strings.Join(sup.ctl, " "), err)
		}
		out.statusCLI = append(out.statusCLI, d)
		t0 := time.Now()
		procs, size, err := statusPids(ctx, sup.addr, "")
		if err != nil {
			return err
		}
		out.statusRPC = append(out.statusRPC, time.Since(t0))
		if len(procs) != n {
			return fmt.Errorf("status: %d instances, want %d", len(procs), n)
		}
		out.replyBytes = size
	}
	return nil
}

// stopTimed SIGTERMs p and returns how long until its namespace was empty.
func stopTimed(ctx context.Context, p *proc, label string) (time.Duration, error) {
	start := monotonic()
	if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(120 * time.Second):
		return 0, fmt.Errorf("%s: still running 120 s after SIGTERM%s", label, p.logTail())
	}
	return p.ended - start, nil
}

// instance is one process as status shows it.
type instance struct {
	pid   int
	state string
}

// statusPids asks taskmasterd at addr for the instances of job (of every
// job for "") on a fresh connection, and returns them by name with the size
// of the reply's data.
func statusPids(ctx context.Context, addr, job string) (map[string]instance, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := ctlproto.Dial(ctx, addr, "")
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	resp, err := c.Do(ctx, &ctlproto.Request{Command: ctlproto.CmdStatus, Job: job})
	if err != nil {
		return nil, 0, err
	}
	type jobStatus struct {
		Processes []struct {
			Name  string
			Pid   int
			State string
		}
	}
	// The status of every job is {"jobs": [...]}; of one job, the job.
	var all struct{ Jobs []jobStatus }
	var one jobStatus
	dst := any(&all)
	if job != "" {
		dst = &one
	}
	if err := json.Unmarshal(resp.Data, dst); err != nil {
		return nil, 0, fmt.Errorf("status reply %s %.200q: %w", resp.Kind, resp.Data, err)
	}
	out := map[string]instance{}
	for _, j := range append(all.Jobs, one) {
		for _, p := range j.Processes {
			out[p.Name] = instance{p.Pid, p.State}
		}
	}
	return out, len(resp.Data), nil
}

// goMetrics reads the Go runtime's heap in use (bytes of allocated heap
// objects) and goroutine count from taskmasterd's /metrics.
func goMetrics(ctx context.Context, addr string) (heap, goroutines float64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("/metrics: %s", resp.Status)
	}
	found := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		var dst *float64
		switch {
		case !ok:
			continue
		case name == "go_memstats_heap_alloc_bytes":
			dst = &heap
		case name == "go_goroutines":
			dst = &goroutines
		default:
			continue
		}
		if *dst, err = strconv.ParseFloat(value, 64); err != nil {
			return 0, 0, fmt.Errorf("/metrics: %s: %w", name, err)
		}
		found++
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	if found != 2 {
		return 0, 0, fmt.Errorf("/metrics: no go_memstats_heap_alloc_bytes or go_goroutines")
	}
	return heap, goroutines, sc.Err()
}

// anonymous returns the anonymous memory of pid in KiB (its heap, stacks
// and the runtime's own), 0 where smaps_rollup is missing.
func anonymous(pid int) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	n, _ := field(b, "Anonymous:")
	return n
}
