package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"time"
)

// restartInstances is how many instances the restart section crashes in
// turn: enough that each has lived past the supervisors' stable-uptime
// threshold (taskmasterd's 1 s) again by the time its turn comes, so that
// every crash is of a process that had been running, not a failed start.
const restartInstances = 50

// restartAge is how long an instance must have run before it is crashed.
const restartAge = 1100 * time.Millisecond

// running is a live instance: its pid and when it exec'd.
type running struct {
	pid int
	at  time.Duration
}

// restart measures, for each supervisor, the time from the SIGKILL of a
// process that had been running (for at least restartAge) until its
// replacement has exec'd, b.crashes times, one crash at a time.
func (b *bench) restart(ctx context.Context) (string, error) {
	type sup struct {
		name  string
		start func(ready func(*proc) error) (*proc, error)
	}
	sups := []sup{
		{"taskmasterd", func(ready func(*proc) error) (*proc, error) {
			return procOf(b.startTaskmasterd("taskmasterd", taskmasterdJobs(1, restartInstances, `,"starttime":0,"autorestart":true`), ready))
		}},
		{"supervisord", func(ready func(*proc) error) (*proc, error) {
			return procOf(b.startSupervisord("supervisord", supervisordPrograms(1, restartInstances, "startsecs=0\nautorestart=true\n"), ready))
		}},
	}
	lat := make([][]float64, len(sups))
	for i, s := range sups {
		crashes := b.crashes
		if s.name == "supervisord" {
			crashes = min(crashes, supervisordCrashes)
		}
		progress("restart: %d crashes of %s", crashes, s.name)
		d, err := b.restartRun(ctx, s.name, s.start, crashes)
		if err != nil {
			return "", err
		}
		lat[i] = ms(d)
	}
	return b.restartReport(sups[0].name, sups[1].name, lat), nil
}

// supervisordCrashes is how many crashes supervisord gets: each takes it
// a second, the tick of its loop, which is also its latency; 200 would
// cost the suite more than three minutes to measure that tick again, and
// 20 show it as well as 50 did.
const supervisordCrashes = 20

// restartRun starts one supervisor and crashes its instances in turn,
// crashes times.
func (b *bench) restartRun(ctx context.Context, name string, start func(func(*proc) error) (*proc, error), crashes int) ([]time.Duration, error) {
	p, w, execs, err := startWatched(ctx, name, start, "sleep", restartInstances, time.Now().Add(60*time.Second))
	if err != nil {
		return nil, err
	}
	defer p.stop()
	defer w.close()
	live := make([]running, 0, len(execs))
	for _, ev := range execs {
		live = append(live, running{ev.pid, ev.at})
	}
	var out []time.Duration
	for range crashes {
		d, err := crashOldest(ctx, p, w, &live)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, d)
	}
	return out, w.err()
}

// crashOldest SIGKILLs the instance that has run longest, once it has run
// restartAge, and returns the time until a replacement exec'd. Only one
// crash is outstanding at a time, so the next exec of sleep in the
// namespace is the replacement.
func crashOldest(ctx context.Context, p *proc, w *execWatch, live *[]running) (time.Duration, error) {
	oldest := slices.MinFunc(*live, func(a, b running) int { return int(a.at - b.at) })
	if wait := oldest.at + restartAge - monotonic(); wait > 0 {
		if err := sleep(ctx, wait); err != nil {
			return 0, err
		}
	}
	start := monotonic()
	if err := syscall.Kill(oldest.pid, syscall.SIGKILL); err != nil {
		return 0, fmt.Errorf("kill %d: %w", oldest.pid, err)
	}
	ev, err := w.next(p, "sleep", time.Now().Add(30*time.Second))
	if err != nil {
		return 0, err
	}
	*live = slices.DeleteFunc(*live, func(r running) bool { return r.pid == oldest.pid })
	*live = append(*live, running{ev.pid, ev.at})
	return ev.at - start, nil
}

// restartReport is the section's text and its target.
func (b *bench) restartReport(tm, sd string, lat [][]float64) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## 3. Restart latency\n\n")
	fmt.Fprintf(&sb, "Each supervisor runs %d instances of `%s` that restart whenever they end (taskmasterd `\"autorestart\": true, \"starttime\": 0`; supervisord `autorestart=true`, `startsecs=0`). The benchmark SIGKILLs the instance that has run longest, once it has run at least %v (so that every crash is of a process that had been running, past taskmasterd's 1 s threshold after which an exit is no failed start and restarts at once), and measures the time from just before `kill` until the replacement's exec of `sleep`, as the kernel's process events connector timestamps it; then the next, %d crashes in all (supervisord: %d, since each takes it a second), one at a time. With `starttime` 0 that exec is the moment the replacement is RUNNING.\n\n", restartInstances, sleeper, restartAge, b.crashes, min(b.crashes, supervisordCrashes))
	sb.WriteString("| supervisor | median ms | p90 ms | p99 ms | min ms | max ms |\n|---|---|---|---|---|---|\n")
	for i, name := range []string{tm, sd} {
		s := summarize(lat[i])
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s |\n", name, num(s.median), num(s.p90), num(percentile(lat[i], 0.99)), num(s.min), num(s.max))
	}
	m := summarize(lat[0]).median
	fmt.Fprintf(&sb, "\nsupervisord / taskmasterd, medians: %.1fx.\n", ratio(summarize(lat[1]).median, m))
	b.check("restart latency under 5 ms median", m < 5, "%s ms median, p99 %s ms (%d crashes)", num(m), num(percentile(lat[0], 0.99)), len(lat[0]))
	return sb.String()
}
