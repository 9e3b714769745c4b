package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// stopContenders are the programs the stop section compares: the two
// supervisors of the spawn section, whose stops the spawn section's runs
// time, and s6-svscan over one service directory per process.
func (b *bench) stopContenders() []contender {
	spawn := b.spawnContenders()
	return []contender{spawn[0], spawn[1], {"s6-svscan", b.startS6, true}}
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
// that exits before its processes have ended gains nothing. taskmasterd's
// and supervisord's stops are those of the spawn section's runs
// (lifecycle); s6-svscan, which the spawn section does not measure, is
// started here.
func (b *bench) stopSection(ctx context.Context) (string, error) {
	lt, err := b.lifecycle(ctx)
	if err != nil {
		return "", err
	}
	contenders := b.stopContenders()
	s6 := contenders[2]
	times := make(map[int][][]float64)
	for _, n := range b.spawnNs {
		times[n] = [][]float64{lt.stop[n][0], lt.stop[n][1], nil}
		for run := range b.runsOf(s6.name, n) {
			progress("stop: N=%d, run %d of %d, %s", n, run+1, b.runsOf(s6.name, n), s6.name)
			_, d, err := b.spawnRun(ctx, s6, n)
			if err != nil {
				return "", err
			}
			times[n][2] = append(times[n][2], ms([]time.Duration{d})[0])
		}
	}
	return b.stopReport(contenders, times), nil
}

// stopReport is the section's text and targets.
func (b *bench) stopReport(contenders []contender, times map[int][][]float64) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## 2. Stop\n\n")
	fmt.Fprintf(&sb, "Time from SIGTERM to the supervisor, PID 1 of its namespace with N running `%s` (each ends on SIGTERM), until the supervisor has exited and every process of the namespace is gone: the benchmark's `wait` for a namespace's PID 1 returns only then. taskmasterd and supervisord are the runs of the spawn section, each stopped once its spawn was timed (so the two sections cost supervisord's slow starts once); s6-svscan (`-c N+10`) a scan directory of N services whose `run` script is `exec %s`, each under its own s6-supervise; s6-svscan turns SIGTERM into `s6-svscanctl -t`, which brings every service down and waits for the supervisors to exit. Each supervisor was given %g s after its last process started. Median (min–max) of %d runs in ms (supervisord and s6-svscan: %d from N = %d, and supervisord 1 from N = %d, as in section 1); s6-svscan's runs come after the spawn section's.\n\n", sleeper, sleeper, stopGrace.Seconds(), b.runs, min(b.runs, slowRuns), slowFrom, slowestFrom)
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
