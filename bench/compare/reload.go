package main

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"time"
)

// reloadResult is what the reloads of the scale section measured, on a
// directory of jobs job files of one instance each.
type reloadResult struct {
	jobs       int
	dirExec    time.Duration // SIGHUP until the last job's process exec'd
	dirRunning time.Duration // SIGHUP until status showed every job RUNNING
	dirCPU     time.Duration // taskmasterd's CPU time over dirExec

	// One file changed (its command), then SIGHUP: until the job's new
	// process exec'd, until status showed it RUNNING, taskmasterd's CPU
	// time over that, and how many processes of the directory changed.
	oneExec, oneRunning, oneCPU []time.Duration
	oneRestarted                []int

	// One file changed, then `taskmasterctl reload JOB`, which answers once
	// the job is settled: its wall time, CPU and processes changed.
	ctlOne, ctlOneCPU []time.Duration
	ctlRestarted      []int

	// Nothing changed, `taskmasterctl reload JOB`: what rereading the
	// directory costs by itself.
	ctlSame, ctlSameCPU []time.Duration
	sameRestarted       []int
}

// reloadJob names the i-th job file of the reload directory.
func reloadJob(i int) string { return fmt.Sprintf("j%04d", i) }

// reloadBody is a reload job file; arg varies the command, so that a
// change of it replaces the job's process.
func reloadBody(arg int) string {
	return fmt.Sprintf(`{"cmd":"/bin/sleep %d","starttime":0}`, arg)
}

// reloads starts taskmasterd on an empty directory with its watcher
// off, so that the benchmark says when to reload: writes b.reloadJobs job
// files, SIGHUPs it and times their start; then changes one file at a
// time, b.reloadRuns times, reloading with SIGHUP and with `taskmasterctl
// reload JOB`, and reloads JOB once more with nothing changed.
func (b *bench) reloads(ctx context.Context) (reloadResult, error) {
	r := reloadResult{jobs: b.reloadJobs}
	var sup *supervisor
	launch := func(ready func(*proc) error) (*proc, error) {
		s, err := b.startTaskmasterd("taskmasterd", nil, ready, "-watch", "off")
		sup = s
		return procOf(s, err)
	}
	p, w, _, err := startWatched(ctx, "taskmasterd, reload", launch, "sleep", 0, time.Now())
	if err != nil {
		return r, err
	}
	defer p.stop()
	defer w.close()
	if err := waitRunning(ctx, sup, 0); err != nil {
		return r, err
	}
	progress("scale: reload of a directory of %d job files", b.reloadJobs)
	for i := range b.reloadJobs {
		if err := writeFileAtomic(filepath.Join(sup.jobs, reloadJob(i)+".tm.json"), []byte(reloadBody(100000))); err != nil {
			return r, err
		}
	}
	written := time.Now()
	cpu0, _ := cpuTime(p.pid)
	t0 := monotonic()
	if err := syscall.Kill(p.pid, syscall.SIGHUP); err != nil {
		return r, err
	}
	deadline := time.Now().Add(120 * time.Second)
	for range b.reloadJobs {
		ev, err := w.next(p, "sleep", deadline)
		if err != nil {
			return r, err
		}
		r.dirExec = ev.at - t0
	}
	cpu1, _ := cpuTime(p.pid)
	r.dirCPU = cpu1 - cpu0
	if _, err := awaitStates(ctx, sup, b.reloadJobs); err != nil {
		return r, err
	}
	r.dirRunning = monotonic() - t0
	if err := settleCache(ctx, b.taskmasterctl, sup.addr, written); err != nil {
		return r, err
	}
	target := reloadJob(b.reloadJobs / 2)
	for run := range b.reloadRuns {
		progress("scale: reload changing one of %d files, run %d of %d", b.reloadJobs, run+1, b.reloadRuns)
		if err := b.reloadOneBySignal(ctx, sup, w, target, 100001+2*run, &r); err != nil {
			return r, err
		}
		if err := b.reloadOneByCtl(ctx, sup, w, target, 100002+2*run, true, &r); err != nil {
			return r, err
		}
		if err := b.reloadOneByCtl(ctx, sup, w, target, 100002+2*run, false, &r); err != nil {
			return r, err
		}
	}
	return r, p.alive()
}

// cacheAge is how old a job file must be for taskmasterd to keep its
// parse between reloads (jobfile's racyWindow), with a margin.
const cacheAge = 2*time.Second + 100*time.Millisecond

// settleCache waits until the job files written at written are old enough
// for taskmasterd to keep their parse, then makes it read them once more
// (a reload of a job that did not change): the files a user edits one by
// one have long been there. Until then every reload read and parsed the
// whole directory again, and the first runs measured that (about 40 ms of
// CPU each, against 4-8 ms once the parses are kept).
func settleCache(ctx context.Context, taskmasterctl, addr string, written time.Time) error {
	if err := sleep(ctx, time.Until(written.Add(cacheAge))); err != nil {
		return err
	}
	if _, err := timeRun([]string{taskmasterctl, "-addr", addr, "reload", reloadJob(0)}, nil); err != nil {
		return fmt.Errorf("taskmasterctl reload %s: %w", reloadJob(0), err)
	}
	return nil
}

// reloadOneBySignal gives job a new command (sleep arg), SIGHUPs
// taskmasterd and times the job's new start.
func (b *bench) reloadOneBySignal(ctx context.Context, sup *supervisor, w *execWatch, job string, arg int, r *reloadResult) error {
	before, _, err := statusPids(ctx, sup.addr, "")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(sup.jobs, job+".tm.json"), []byte(reloadBody(arg))); err != nil {
		return err
	}
	cpu0, _ := cpuTime(sup.pid)
	t0 := monotonic()
	if err := syscall.Kill(sup.pid, syscall.SIGHUP); err != nil {
		return err
	}
	ev, err := w.next(sup.proc, "sleep", time.Now().Add(30*time.Second))
	if err != nil {
		return err
	}
	// The CPU time up to the new exec, as for the whole directory: what
	// follows it is the benchmark's own asking, every 2 ms, which on a
	// loaded machine took several times what the reload did.
	cpu1, _ := cpuTime(sup.pid)
	// Asking about the one job costs taskmasterd little, unlike a status
	// of the whole directory.
	old := before[job+":0"].pid
	if err := awaitJob(ctx, sup.addr, job, old); err != nil {
		return err
	}
	running := monotonic() - t0
	changed, err := awaitStates(ctx, sup, b.reloadJobs, before)
	if err != nil {
		return err
	}
	r.oneExec = append(r.oneExec, ev.at-t0)
	r.oneRunning = append(r.oneRunning, running)
	r.oneCPU = append(r.oneCPU, cpu1-cpu0)
	r.oneRestarted = append(r.oneRestarted, changed)
	return nil
}

// reloadOneByCtl times `taskmasterctl reload job`, with job given a new
// command (sleep arg) first when change is set.
func (b *bench) reloadOneByCtl(ctx context.Context, sup *supervisor, w *execWatch, job string, arg int, change bool, r *reloadResult) error {
	before, _, err := statusPids(ctx, sup.addr, "")
	if err != nil {
		return err
	}
	if change {
		if err := writeFileAtomic(filepath.Join(sup.jobs, job+".tm.json"), []byte(reloadBody(arg))); err != nil {
			return err
		}
	}
	cpu0, _ := cpuTime(sup.pid)
	d, err := timeRun([]string{b.taskmasterctl, "-addr", sup.addr, "reload", job}, nil)
	if err != nil {
		return fmt.Errorf("taskmasterctl reload %s: %w", job, err)
	}
	cpu1, _ := cpuTime(sup.pid)
	if change { // the new process's exec, so that the next run waits for its own
		if _, err := w.next(sup.proc, "sleep", time.Now().Add(30*time.Second)); err != nil {
			return err
		}
	}
	changed, err := awaitStates(ctx, sup, b.reloadJobs, before)
	if err != nil {
		return err
	}
	if change {
		r.ctlOne, r.ctlOneCPU = append(r.ctlOne, d), append(r.ctlOneCPU, cpu1-cpu0)
		r.ctlRestarted = append(r.ctlRestarted, changed)
	} else {
		r.ctlSame, r.ctlSameCPU = append(r.ctlSame, d), append(r.ctlSameCPU, cpu1-cpu0)
		r.sameRestarted = append(r.sameRestarted, changed)
	}
	return nil
}

// awaitStates waits until taskmasterd shows n instances RUNNING, asking
// every 5 ms, and returns how many of them have another pid than in
// before (when given).
func awaitStates(ctx context.Context, sup *supervisor, n int, before ...map[string]instance) (int, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		now, _, err := statusPids(ctx, sup.addr, "")
		if err != nil {
			return 0, err
		}
		running := 0
		for _, in := range now {
			if in.state == "RUNNING" {
				running++
			}
		}
		if running == n && len(now) == n {
			changed := 0
			for _, b := range before {
				for name, in := range now {
					if b[name].pid != in.pid {
						changed++
					}
				}
			}
			return changed, nil
		}
		if err := sup.alive(); err != nil {
			return 0, err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: %d of %d instances RUNNING after 60 s%s", sup.name, running, n, sup.logTail())
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// awaitJob waits until the one instance of job is RUNNING with another
// pid than old, asking every 2 ms.
func awaitJob(ctx context.Context, addr, job string, old int) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		procs, _, err := statusPids(ctx, addr, job)
		if err != nil {
			return err
		}
		in := procs[job+":0"]
		if in.state == "RUNNING" && in.pid != old {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %s (pid %d) 30 s after the reload", job, in.state, in.pid)
		}
		if err := sleep(ctx, 2*time.Millisecond); err != nil {
			return err
		}
	}
}
