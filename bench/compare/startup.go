package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// startInstances is how many instances of one job the start benchmark runs.
const startInstances = 100

// startSample is one start of a supervisor with startInstances processes.
type startSample struct {
	latency time.Duration // from the supervisor's exec until every instance runs sleep
	rss     float64       // the supervisor's RSS with them running, MiB
}

// startup measures how long taskmasterd and supervisord take, from their
// exec, until all startInstances instances of a job are running (the
// children have exec'd /bin/sleep, seen in /proc every millisecond).
func (b *bench) startup(ctx context.Context) (string, error) {
	type contender struct {
		name  string
		start func() (*supervisor, error)
	}
	contenders := []contender{
		{"taskmasterd", func() (*supervisor, error) {
			job := fmt.Sprintf(`{"cmd":%q,"numprocs":%d,"starttime":0}`, sleeper, startInstances)
			return b.startTaskmasterd("taskmasterd", map[string]string{"s": job})
		}},
		{"supervisord", func() (*supervisor, error) {
			prog := fmt.Sprintf("[program:s]\ncommand=%s\nnumprocs=%d\nprocess_name=%%(program_name)s_%%(process_num)03d\nstartsecs=0\n", sleeper, startInstances)
			return b.startSupervisord("supervisord", prog)
		}},
	}
	samples := make([][]startSample, len(contenders))
	for run := range b.startRuns {
		for i, c := range contenders {
			progress("start latency: run %d of %d, %s", run+1, b.startRuns, c.name)
			s, err := b.startRun(ctx, c.start)
			if err != nil {
				return "", err
			}
			samples[i] = append(samples[i], s)
			if err := sleep(ctx, 300*time.Millisecond); err != nil {
				return "", err
			}
		}
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "## 4. Start latency\n\n")
	fmt.Fprintf(&sb, "Time from the supervisor's exec (PID 1 of a fresh PID namespace) until all %d instances of one job (`%s`; taskmasterd `\"numprocs\": %d, \"starttime\": 0`, supervisord `numprocs=%d startsecs=0`) have exec'd `sleep`, seen from /proc every millisecond. This includes each supervisor's own start-up: taskmasterd's re-exec of itself, supervisord's Python interpreter. RSS is the supervisor's once they all run. Median (min–max) of %d runs, alternating.\n\n", startInstances, sleeper, startInstances, startInstances, b.startRuns)
	fmt.Fprintf(&sb, "| supervisor | all %d running, ms | RSS MiB with %d processes |\n|---|---|---|\n", startInstances, startInstances)
	for i, c := range contenders {
		var lat, rss []float64
		for _, s := range samples[i] {
			lat = append(lat, float64(s.latency)/float64(time.Millisecond))
			rss = append(rss, s.rss)
		}
		fmt.Fprintf(&sb, "| %s | %s | %s |\n", c.name, summarize(lat).medianRange(), summarize(rss).medianRange())
	}
	return sb.String(), nil
}

// startRun starts one supervisor and waits for its instances.
func (b *bench) startRun(ctx context.Context, start func() (*supervisor, error)) (startSample, error) {
	var s startSample
	sup, err := start()
	if err != nil {
		return s, err
	}
	defer sup.stop()
	seen := map[int]bool{}
	deadline := time.Now().Add(60 * time.Second)
	for countChildren(sup.pid, "sleep", seen) < startInstances {
		if err := sup.alive(); err != nil {
			return s, err
		}
		if err := ctx.Err(); err != nil {
			return s, err
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%s: %d of %d instances after 60 s%s", sup.name, len(seen), startInstances, sup.logTail())
		}
		time.Sleep(time.Millisecond)
	}
	s.latency = monotonic() - sup.exec
	rss, _, err := memory(sup.pid)
	if err != nil {
		return s, err
	}
	s.rss = float64(rss) / 1024
	return s, nil
}
