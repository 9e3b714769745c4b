package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// stopContenders are the programs the stop section compares: the two
// supervisors of the spawn section, and s6-svscan over one service
// directory per process.
func (b *bench) stopContenders() []contender {
	spawn := b.spawnContenders()
	return []contender{spawn[0], spawn[1], {"s6-svscan", b.startS6}}
}

// startS6 starts s6-svscan on a scan directory of n services, each running
// sleeper. s6 runs every service under its own s6-supervise process, so
// a service's run script must exec the program: it is a two-line shell
// script, as s6's documentation shows.
func (b *bench) startS6(n int, ready func(*proc) error) (*proc, error) {
	dir, err := os.MkdirTemp(b.tmp, "s6-")
	if err != nil {
		return nil, err
	}
	scan := filepath.Join(dir, "scan")
	run := "#!/bin/sh\nexec " + sleeper + "\n"
	for i := range n {
		svc := filepath.Join(scan, fmt.Sprintf("s%04d", i))
		if err := os.MkdirAll(svc, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(svc, "run"), []byte(run), 0o755); err != nil {
			return nil, err
		}
	}
	// -c: s6-svscan supervises at most 1000 services unless told more.
	argv := []string{b.s6svscan, "-c", strconv.Itoa(n + 10), scan}
	return startInNamespaceReady("s6-svscan", argv, filepath.Join(dir, "log"), ready)
}

// stopSection measures, for each N, the time from SIGTERM to each
// supervisor until it has exited with its N processes. The end is when the
// benchmark's wait for the namespace's PID 1 returns: the kernel completes
// that only once every process of the namespace is gone, so a supervisor
// that exits before its processes have ended gains nothing.
func (b *bench) stopSection(ctx context.Context) (string, error) {
	contenders := b.stopContenders()
	times := make(map[int][][]float64)
	for _, n := range b.spawnNs {
		times[n] = make([][]float64, len(contenders))
		for run := range b.runs {
			for k := range contenders {
				i := (run + k) % len(contenders)
				if run >= b.runsOf(contenders[i].name, n) {
					continue
				}
				progress("stop: N=%d, run %d of %d, %s", n, run+1, b.runs, contenders[i].name)
				d, err := b.stopRun(ctx, contenders[i], n)
				if err != nil {
					return "", err
				}
				times[n][i] = append(times[n][i], ms([]time.Duration{d})[0])
			}
		}
	}
	return b.stopReport(contenders, times), nil
}

// stopRun starts c with n processes, waits until they all run and a little
// more, and times its stop.
func (b *bench) stopRun(ctx context.Context, c contender, n int) (time.Duration, error) {
	launch := func(ready func(*proc) error) (*proc, error) { return c.start(n, ready) }
	p, w, _, err := startWatched(ctx, fmt.Sprintf("%s, N=%d", c.name, n), launch, "sleep", n, time.Now().Add(120*time.Second))
	if err != nil {
		return 0, err
	}
	defer p.stop()
	defer w.close()
	// Let each supervisor take note of its processes (supervisord marks
	// them RUNNING on its next loop) before it is asked to stop.
	if err := sleep(ctx, 500*time.Millisecond); err != nil {
		return 0, err
	}
	start := monotonic()
	if err := syscall.Kill(p.pid, syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-time.After(120 * time.Second):
		return 0, fmt.Errorf("%s, N=%d: still running 120 s after SIGTERM%s", c.name, n, p.logTail())
	}
	return p.ended - start, nil
}

// stopReport is the section's text and targets.
func (b *bench) stopReport(contenders []contender, times map[int][][]float64) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## 2. Stop\n\n")
	fmt.Fprintf(&sb, "Time from SIGTERM to the supervisor, PID 1 of its namespace with N running `%s` (each ends on SIGTERM), until the supervisor has exited and every process of the namespace is gone: the benchmark's `wait` for a namespace's PID 1 returns only then. taskmasterd and supervisord run the jobs of the spawn section; s6-svscan (`-c N+10`) a scan directory of N services whose `run` script is `exec %s`, each under its own s6-supervise; s6-svscan turns SIGTERM into `s6-svscanctl -t`, which brings every service down and waits for the supervisors to exit. Each supervisor was given 0.5 s after its last process started. Median (min–max) of %d runs in ms (supervisord: %d from N = %d, as in section 1), contenders alternating.\n\n", sleeper, sleeper, b.runs, min(b.runs, slowRuns), slowFrom)
	sb.WriteString("| N |")
	for _, c := range contenders {
		fmt.Fprintf(&sb, " %s ms |", c.name)
	}
	sb.WriteString(" supervisord / taskmasterd | s6 / taskmasterd |\n|---|" + strings.Repeat("---|", len(contenders)+2) + "\n")
	for _, n := range b.spawnNs {
		fmt.Fprintf(&sb, "| %d |", n)
		for i := range contenders {
			fmt.Fprintf(&sb, " %s |", summarize(times[n][i]).medianRange())
		}
		tm, sd, s6 := summarize(times[n][0]).median, summarize(times[n][1]).median, summarize(times[n][2]).median
		fmt.Fprintf(&sb, " %.1fx | %.2fx |\n", ratio(sd, tm), ratio(s6, tm))
		b.check(fmt.Sprintf("stop at least 10x faster than supervisord, N=%d", n), ratio(sd, tm) >= 10,
			"%.1fx (%s ms against %s ms)", ratio(sd, tm), num(tm), num(sd))
	}
	return sb.String()
}
