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

// contender is one program measured, started afresh as PID 1 of its own
// PID namespace with n sleeping processes to run. ready is passed on to
// startInNamespaceReady.
type contender struct {
	name  string
	start func(n int, ready func(*proc) error) (*proc, error)
	// stops says whether the stop section times this contender's stop
	// (the raw loop has nothing to stop: it only spawns).
	stops bool
}

// spawnContenders are the programs the spawn section compares: the two
// supervisors, and the raw posix_spawn loop that shows the kernel's own
// limit.
func (b *bench) spawnContenders() []contender {
	return []contender{
		{"taskmasterd", func(n int, ready func(*proc) error) (*proc, error) {
			return procOf(b.startTaskmasterd("taskmasterd", taskmasterdJobs(1, n, `,"starttime":0`), ready))
		}, true},
		{"supervisord", func(n int, ready func(*proc) error) (*proc, error) {
			return procOf(b.startSupervisord("supervisord", supervisordPrograms(1, n, "startsecs=0\n"), ready))
		}, true},
		{"raw posix_spawn loop", func(n int, ready func(*proc) error) (*proc, error) {
			argv := append([]string{b.spawnloop, strconv.Itoa(n)}, strings.Fields(sleeper)...)
			return startInNamespaceReady("spawnloop", argv, filepath.Join(b.tmp, "spawnloop.log"), ready)
		}, false},
	}
}

// slowRuns is how many runs supervisord and s6-svscan get at slowFrom
// instances and more, in the spawn and stop sections: each run of
// supervisord takes 20 to 60 s there (its start at N included), one of
// s6-svscan 8 to 15 s (a service directory per process, and an
// s6-supervise for each), and their ratios to taskmasterd need less
// precision than that costs: the suite's 25 minutes. From slowestFrom,
// supervisord gets one run: about 48 s each at N = 1,000, and its runs
// there spread by under 1% (47.9 to 48.2 s on 2026-12-06).
const (
	slowRuns    = 2
	slowFrom    = 500
	slowestFrom = 1000
)

// runsOf returns how many runs the contender name gets at n instances.
func (b *bench) runsOf(name string, n int) int {
	if name == "supervisord" && n >= slowestFrom {
		return 1
	}
	if (name == "supervisord" || name == "s6-svscan") && n >= slowFrom {
		return min(b.runs, slowRuns)
	}
	return b.runs
}

func procOf(s *supervisor, err error) (*proc, error) {
	if err != nil {
		return nil, err
	}
	return s.proc, nil
}

// lifecycleTimes are the times of the spawn section's runs, in ms:
// spawn[n][c] of each run of contender c (of spawnContenders) at n
// instances, and stop[n][c] of the same runs, for the contenders that
// stop.
type lifecycleTimes struct {
	spawn, stop map[int][][]float64
}

// lifecycle makes the spawn section's runs once, for the spawn and the
// stop sections both: each run starts a contender with N instances, times
// the spawn, then stops it and times the stop. The stop section used to
// start every supervisor again for its own runs, and supervisord's starts
// at N = 500 and 1,000 took most of the suite's time.
func (b *bench) lifecycle(ctx context.Context) (*lifecycleTimes, error) {
	if b.lifecycleDone != nil {
		return b.lifecycleDone, nil
	}
	contenders := b.spawnContenders()
	lt := &lifecycleTimes{spawn: map[int][][]float64{}, stop: map[int][][]float64{}}
	for _, n := range b.spawnNs {
		lt.spawn[n] = make([][]float64, len(contenders))
		lt.stop[n] = make([][]float64, len(contenders))
		for run := range b.runs {
			for k := range contenders {
				i := (run + k) % len(contenders) // alternate who goes first
				if run >= b.runsOf(contenders[i].name, n) {
					continue
				}
				progress("spawn and stop: N=%d, run %d of %d, %s", n, run+1, b.runs, contenders[i].name)
				spawned, stopped, err := b.spawnRun(ctx, contenders[i], n)
				if err != nil {
					return nil, err
				}
				lt.spawn[n][i] = append(lt.spawn[n][i], ms([]time.Duration{spawned})[0])
				if contenders[i].stops {
					lt.stop[n][i] = append(lt.stop[n][i], ms([]time.Duration{stopped})[0])
				}
			}
		}
	}
	b.lifecycleDone = lt
	return lt, nil
}

// spawn measures, for each N, the time from the exec of each contender
// until its N instances have all exec'd sleep, as the kernel's process
// events connector timestamps the execs.
func (b *bench) spawn(ctx context.Context) (string, error) {
	contenders := b.spawnContenders()
	lt, err := b.lifecycle(ctx)
	if err != nil {
		return "", err
	}
	text := b.spawnReport(contenders, lt.spawn)
	if b.svg != "" {
		if err := writeSpawnChart(b.svg, contenders, b.spawnNs, lt.spawn); err != nil {
			return "", err
		}
		progress("spawn: chart written to %s", b.svg)
	}
	return text, nil
}

// stopGrace is how long a supervisor is left after its last process
// started before it is asked to stop, so that each takes note of its
// processes (supervisord marks them RUNNING on its next loop).
const stopGrace = 500 * time.Millisecond

// spawnRun starts c with n instances and returns how long after its exec
// the last of them exec'd sleep and, if c stops, how long its stop took
// (stopTimed), stopGrace later.
func (b *bench) spawnRun(ctx context.Context, c contender, n int) (spawned, stopped time.Duration, err error) {
	label := fmt.Sprintf("%s, N=%d", c.name, n)
	launch := func(ready func(*proc) error) (*proc, error) { return c.start(n, ready) }
	p, w, execs, err := startWatched(ctx, label, launch, "sleep", n, spawnDeadline(n))
	if err != nil {
		return 0, 0, err
	}
	defer p.stop()
	defer w.close()
	spawned = execs[n-1].at - p.exec
	if !c.stops {
		return spawned, 0, nil
	}
	if err := sleep(ctx, stopGrace); err != nil {
		return 0, 0, err
	}
	stopped, err = stopTimed(ctx, p, label)
	return spawned, stopped, err
}

// spawnDeadline is when a spawn of n processes has failed: 10,000 take
// about 10 s on a quiet machine, many times that on a busy one.
func spawnDeadline(n int) time.Time {
	return time.Now().Add(120*time.Second + time.Duration(n)*30*time.Millisecond)
}

// spawnReport is the section's text: a table per contender and N, the
// ratios, and the targets checked.
func (b *bench) spawnReport(contenders []contender, times map[int][][]float64) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## 1. Spawn\n\n")
	fmt.Fprintf(&sb, "Time from the exec of the supervisor (PID 1 of a fresh PID namespace) until all N instances of `%s` have exec'd `sleep`, as timestamped by the kernel's process events connector. taskmasterd runs one job file `{\"cmd\": ..., \"numprocs\": N, \"starttime\": 0}`, supervisord one `[program:x]` with `numprocs=N`, `startsecs=0`; the raw loop is `bench-spawnloop` (bench/baseline/spawnloop.c), a C program that calls `posix_spawn` N times with nothing around it: no pipes, no state, the kernel's own limit. Each supervisor's own start-up is included (the Go runtime, package initialisation and the catching of every signal; Python and supervisord's first 1 s poll). Median (min–max) of %d runs in ms (supervisord: %d from N = %d and 1 from N = %d, where a run of it takes seconds and its ratio needs no more precision), contenders alternating; ratios of medians.\n\n", sleeper, b.runs, min(b.runs, slowRuns), slowFrom, slowestFrom)
	sb.WriteString("| N |")
	for _, c := range contenders {
		fmt.Fprintf(&sb, " %s ms |", c.name)
	}
	sb.WriteString(" taskmasterd / raw | supervisord / taskmasterd |\n|---|")
	sb.WriteString(strings.Repeat("---|", len(contenders)+2) + "\n")
	for _, n := range b.spawnNs {
		fmt.Fprintf(&sb, "| %d |", n)
		for i := range contenders {
			fmt.Fprintf(&sb, " %s |", summarize(times[n][i]).medianRange())
		}
		tm, sd, raw := summarize(times[n][0]).median, summarize(times[n][1]).median, summarize(times[n][2]).median
		overRaw, sdOverTm := ratio(tm, raw), ratio(sd, tm)
		fmt.Fprintf(&sb, " %.2fx | %.1fx |\n", overRaw, sdOverTm)
		b.check(fmt.Sprintf("spawn within 1.5x of the raw loop, N=%d", n), overRaw <= 1.5,
			"%.2fx (%s ms against %s ms)", overRaw, num(tm), num(raw))
		b.check(fmt.Sprintf("spawn at least 10x faster than supervisord, N=%d", n), sdOverTm >= 10,
			"%.1fx (%s ms against %s ms)", sdOverTm, num(tm), num(sd))
	}
	if len(b.spawnNs) >= 2 {
		sb.WriteString("\nCost of each further instance, from the two largest N ((t(N₂) − t(N₁)) / (N₂ − N₁)), which leaves the fixed start-up cost out:\n\n| contender | µs per instance |\n|---|---|\n")
		n1, n2 := b.spawnNs[len(b.spawnNs)-2], b.spawnNs[len(b.spawnNs)-1]
		for i, c := range contenders {
			d := (summarize(times[n2][i]).median - summarize(times[n1][i]).median) / float64(n2-n1)
			fmt.Fprintf(&sb, "| %s | %s |\n", c.name, num(d*1000))
		}
	}
	if b.svg != "" {
		fmt.Fprintf(&sb, "\nChart: [%s](%s).\n", filepath.Base(b.svg), filepath.Base(b.svg))
	}
	return sb.String()
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed over path, so that a reader never sees half
// a file.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
