package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// orphanSample is one orphan storm under one init.
type orphanSample struct {
	total      time.Duration // from the init's exec until no orphan is left
	storm      time.Duration // from the init's exec until the last orphan started
	lag        time.Duration // from the last orphan's exit (start + its sleep) until nothing is left
	cpu        time.Duration // CPU time the init used after starting its command, all threads
	maxZombies int           // most unreaped zombie children of the init seen at once
	maxOrphans int           // most children of the init (but the command) seen at once
}

// orphanLife is how long each orphan of the storm lives.
const orphanLife = 500 * time.Millisecond

// stormScript makes n orphans: a subshell starts n background sleeps and
// exits, so they are re-parented to the init, which must reap them as they
// end. The command then becomes a long sleep, so that the init keeps running
// (tini and taskmasterd both end when their command ends).
func stormScript(n int) string {
	return fmt.Sprintf(`( i=0; while [ $i -lt %d ]; do sleep %g & i=$((i+1)); done ); exec sleep 1000`, n, orphanLife.Seconds())
}

// orphans runs the orphan storm under taskmasterd and under tini, each PID 1
// of its own PID namespace, one after the other.
func (b *bench) orphans(ctx context.Context) (string, error) {
	script := stormScript(b.orphanCount)
	inits := []struct {
		name string
		argv []string
	}{
		{"taskmasterd", []string{b.taskmasterd, "--", "/bin/sh", "-c", script}},
		{"tini -s", []string{b.tini, "-s", "--", "/bin/sh", "-c", script}},
	}
	samples := make([][]orphanSample, len(inits))
	for run := range b.orphanRuns {
		for i, in := range inits {
			progress("orphan reaping: run %d of %d, %s", run+1, b.orphanRuns, in.name)
			s, err := b.orphanRun(ctx, in.name, in.argv)
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
	fmt.Fprintf(&sb, "## 3. Orphan reaping\n\n")
	fmt.Fprintf(&sb, "The init, PID 1 of a fresh PID namespace, runs `sh -c '%s'`: a subshell starts %d background `sleep %g` and exits, so that they are re-parented to the init, which must reap each as it ends. Measured from /proc every 2 ms (children of the init) and every 50 ms (their states):\n\n", script, b.orphanCount, orphanLife.Seconds())
	fmt.Fprintf(&sb, "- **time to zero**: from the init's exec until the init has no child left but the command (every orphan ended and reaped);\n")
	fmt.Fprintf(&sb, "- **storm**: from the init's exec until the last orphan started (its start time in `/proc/PID/stat`, to the 10 ms clock tick): the shell's work, which the init only slows down;\n")
	fmt.Fprintf(&sb, "- **after last exit**: time to zero minus the moment the last orphan ended (its start time from `/proc/PID/stat` + %g s; ±10 ms, the clock tick of that start time);\n", orphanLife.Seconds())
	fmt.Fprintf(&sb, "- **init CPU**: CPU time the init used, all threads (`/proc/PID/task/*/schedstat`), from when its command was first seen running (its own start-up left out) until then;\n")
	fmt.Fprintf(&sb, "- **max zombies**: the most zombies waiting for the init seen in one 50 ms sample; **max orphans**: the most children of the init seen at once.\n\n")
	fmt.Fprintf(&sb, "Median (min–max) of %d runs.\n\n", b.orphanRuns)
	fmt.Fprintf(&sb, "| init | time to zero ms | storm ms | after last exit ms | init CPU ms | max zombies | max orphans |\n|---|---|---|---|---|---|---|\n")
	for i, in := range inits {
		var total, storm, lag, cpu, zombies, orphans []float64
		for _, s := range samples[i] {
			total = append(total, float64(s.total)/float64(time.Millisecond))
			storm = append(storm, float64(s.storm)/float64(time.Millisecond))
			lag = append(lag, float64(s.lag)/float64(time.Millisecond))
			cpu = append(cpu, float64(s.cpu)/float64(time.Millisecond))
			zombies = append(zombies, float64(s.maxZombies))
			orphans = append(orphans, float64(s.maxOrphans))
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s | %s |\n", in.name, summarize(total).medianRange(), summarize(storm).medianRange(), summarize(lag).medianRange(), summarize(cpu).medianRange(), summarize(zombies).countRange(), summarize(orphans).countRange())
	}
	return sb.String(), nil
}

// orphanRun runs one storm under the init of argv and watches it until no
// orphan is left.
func (b *bench) orphanRun(ctx context.Context, name string, argv []string) (orphanSample, error) {
	var s orphanSample
	p, err := startInNamespace(name, argv, filepath.Join(b.tmp, "orphans-"+strings.Fields(name)[0]+".log"))
	if err != nil {
		return s, err
	}
	defer p.stop()
	var lastStart uint64      // in clock ticks after boot
	cpu0 := time.Duration(-1) // the init's CPU time once its command runs: its own start-up is not reaping
	deadline := time.Now().Add(60 * time.Second)
	nextScan := time.Now()
	for {
		if err := p.alive(); err != nil {
			return s, err
		}
		if err := ctx.Err(); err != nil {
			return s, err
		}
		kids := children(p.pid)
		if cpu0 < 0 && len(kids) > 0 {
			if cpu0, err = cpuTime(p.pid); err != nil {
				return s, err
			}
		}
		if len(kids) == 1 && cmdline(kids[0]) == "sleep 1000" {
			if lastStart == 0 {
				return s, fmt.Errorf("%s: the storm ended before any orphan was seen", name)
			}
			now, boot := monotonic(), boottime()
			s.total = now - p.exec
			s.storm = ticks(lastStart) - (boot - now) - p.exec
			s.lag = boot - (ticks(lastStart) + orphanLife)
			cpu, err := cpuTime(p.pid)
			if err != nil {
				return s, err
			}
			s.cpu = cpu - cpu0
			return s, nil
		}
		s.maxOrphans = max(s.maxOrphans, len(kids)-1)
		if now := time.Now(); !now.Before(nextScan) {
			nextScan = now.Add(50 * time.Millisecond)
			zombies, latest := scanStates(kids)
			s.maxZombies = max(s.maxZombies, zombies)
			lastStart = max(lastStart, latest)
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("%s: %d children left after 60 s", name, len(kids))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// scanStates returns how many of pids are zombies, and the latest start
// time among them (clock ticks after boot).
func scanStates(pids []int) (zombies int, latest uint64) {
	for _, pid := range pids {
		st, err := stat(pid)
		if err != nil {
			continue // reaped meanwhile
		}
		if st.state == 'Z' {
			zombies++
		}
		latest = max(latest, st.start)
	}
	return zombies, latest
}

// boottime returns CLOCK_BOOTTIME, the clock of the start times in
// /proc/PID/stat.
func boottime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

// ticks converts clock ticks (USER_HZ, 100 on Linux) to a duration.
func ticks(n uint64) time.Duration {
	return time.Duration(n) * (time.Second / 100)
}
