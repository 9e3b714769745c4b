package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"
)

// restSetup is one process measured at rest.
type restSetup struct {
	name     string
	start    func() (*proc, error)
	children int // how many sleep children it has once started
}

// restSetups are the processes measured at rest: two supervisors with ten
// sleeping jobs, and two single-command inits of one sleep.
func (b *bench) restSetups() []restSetup {
	single := func(name string, argv ...string) func() (*proc, error) {
		return func() (*proc, error) {
			return startInNamespace(name, argv, filepath.Join(b.tmp, strings.Fields(name)[0]+"-single.log"))
		}
	}
	return []restSetup{
		{"taskmasterd, 10 jobs", func() (*proc, error) {
			s, err := b.startTaskmasterd("taskmasterd", tenTaskmasterdJobs())
			return procOf(s, err)
		}, 10},
		{"supervisord, 10 programs", func() (*proc, error) {
			s, err := b.startSupervisord("supervisord", tenSupervisordPrograms())
			return procOf(s, err)
		}, 10},
		{"taskmasterd -- sleep 1000", single("taskmasterd (single)", b.taskmasterd, "--", "/bin/sleep", "1000"), 1},
		{"tini -- sleep 1000", single("tini", b.tini, "--", "/bin/sleep", "1000"), 1},
	}
}

func procOf(s *supervisor, err error) (*proc, error) {
	if err != nil {
		return nil, err
	}
	return s.proc, nil
}

// restSample is one run's measurements of one setup.
type restSample struct {
	rate     float64 // context switches per second
	rss, pss float64 // MiB
	threads  int
}

// idle measures, for each rest setup, the context switches per second of
// the init or supervisor process itself (all its threads) over a window
// after a settle period, and its memory at the end of the window. All setups
// run at the same time, each as PID 1 of its own PID namespace; each run
// starts them afresh.
func (b *bench) idle(ctx context.Context) (string, error) {
	setups := b.restSetups()
	samples := make([][]restSample, len(setups))
	for run := range b.idleRuns {
		progress("idle and memory: run %d of %d (%v settle + %v window)", run+1, b.idleRuns, b.settle, b.window)
		got, err := b.idleRun(ctx, setups)
		if err != nil {
			return "", err
		}
		for i, s := range got {
			samples[i] = append(samples[i], s)
		}
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "## 1. Idle wakeups\n\n")
	fmt.Fprintf(&sb, "Context switches per second of the supervisor or init process itself (all its threads, voluntary + involuntary, from `/proc/PID/task/*/status`) over a %g s window, after a %g s settle period. Every job is `%s`. Median (min–max) of %d runs; the four setups run at the same time, each as PID 1 of its own PID namespace.\n\n", b.window.Seconds(), b.settle.Seconds(), sleeper, b.idleRuns)
	fmt.Fprintf(&sb, "| setup | context switches/s | threads |\n|---|---|---|\n")
	for i, s := range setups {
		rates, thr := make([]float64, 0, len(samples[i])), make([]float64, 0, len(samples[i]))
		for _, x := range samples[i] {
			rates = append(rates, x.rate)
			thr = append(thr, float64(x.threads))
		}
		fmt.Fprintf(&sb, "| %s | %s | %s |\n", s.name, summarize(rates).medianRange(), fmt.Sprintf("%.0f", summarize(thr).median))
	}
	fmt.Fprintf(&sb, "\n## 2. Memory\n\n")
	fmt.Fprintf(&sb, "Resident (RSS) and proportional (PSS, shared pages divided among the processes sharing them) set size of the same processes, from `/proc/PID/smaps_rollup` at the end of each idle window, in MiB. The jobs' own memory is not counted. Median (min–max) of %d runs.\n\n", b.idleRuns)
	fmt.Fprintf(&sb, "| setup | RSS MiB | PSS MiB |\n|---|---|---|\n")
	for i, s := range setups {
		var rss, pss []float64
		for _, x := range samples[i] {
			rss = append(rss, x.rss)
			pss = append(pss, x.pss)
		}
		fmt.Fprintf(&sb, "| %s | %s | %s |\n", s.name, summarize(rss).medianRange(), summarize(pss).medianRange())
	}
	return sb.String(), nil
}

// idleRun starts every setup, lets them settle, and measures them over one
// window.
func (b *bench) idleRun(ctx context.Context, setups []restSetup) ([]restSample, error) {
	procs := make([]*proc, len(setups))
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for i, s := range setups {
		p, err := s.start()
		if err != nil {
			return nil, err
		}
		procs[i] = p
	}
	for i, s := range setups {
		if err := waitChildren(ctx, procs[i], "sleep", s.children, 30*time.Second); err != nil {
			return nil, err
		}
	}
	if err := sleep(ctx, b.settle); err != nil {
		return nil, err
	}
	before := make([]uint64, len(setups))
	for i, p := range procs {
		n, err := ctxSwitches(p.pid)
		if err != nil {
			return nil, err
		}
		before[i] = n
	}
	t0 := time.Now()
	if err := sleep(ctx, b.window); err != nil {
		return nil, err
	}
	elapsed := time.Since(t0).Seconds()
	out := make([]restSample, len(setups))
	for i, p := range procs {
		if err := p.alive(); err != nil {
			return nil, err
		}
		n, err := ctxSwitches(p.pid)
		if err != nil {
			return nil, err
		}
		rss, pss, err := memory(p.pid)
		if err != nil {
			return nil, err
		}
		out[i] = restSample{
			rate:    float64(n-before[i]) / elapsed,
			rss:     float64(rss) / 1024,
			pss:     float64(pss) / 1024,
			threads: threads(p.pid),
		}
	}
	return out, nil
}
