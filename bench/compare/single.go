package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// single measures the wall time of running /bin/true under each init, and
// directly as the baseline, b.singleRuns times each, interleaved. Each
// runs as PID 1 of a fresh PID namespace, as an init does in the container
// of `docker run IMAGE -- CMD` or `docker run --init`: the cost the
// section's targets are about.
func (b *bench) single(ctx context.Context) (string, error) {
	floor, err := b.goFloor()
	if err != nil {
		return "", err
	}
	variants := []struct {
		name string
		argv []string
		env  []string // added to the environment
	}{
		{"/bin/true", []string{"/bin/true"}, nil},
		{"tini -- /bin/true", []string{b.tini, "--", "/bin/true"}, nil},
		{"taskmasterd -- /bin/true", []string{b.taskmasterd, "--", "/bin/true"}, nil},
		// Where taskmasterd's time goes: start-up and exit alone.
		{"taskmasterd -version", []string{b.taskmasterd, "-version"}, nil},
		// The floor under that: any static Go program's start-up and exit.
		{"gofloor", []string{floor}, nil},
		// The least Go init of one command with taskmasterd's signal
		// guarantees, and its catching of every signal alone.
		{"goinit /bin/true", []string{b.goInit, "/bin/true"}, nil},
		{"goinit", []string{b.goInit}, nil},
	}
	times := make([][]time.Duration, len(variants))
	progress("single-command overhead: %d runs of each", b.singleRuns)
	for run := range b.singleRuns {
		for k := range variants {
			i := (run + k) % len(variants) // rotate the order, so none always runs first
			if err := ctx.Err(); err != nil {
				return "", err
			}
			d, err := timeRunAsInit(variants[i].argv, variants[i].env)
			if err != nil {
				return "", fmt.Errorf("%s: %w", variants[i].name, err)
			}
			times[i] = append(times[i], d)
		}
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "## 8. Single-command overhead\n\n")
	fmt.Fprintf(&sb, "Wall time of fork, exec and wait of each command line from Go, %d runs of each, interleaved, each as PID 1 of a fresh PID namespace, as in the container of `docker run IMAGE -- CMD` (`tini --` is what `docker run --init` runs; as PID 1, taskmasterd keeps no state journal, since nothing it starts can outlive it). Median (p10–p90) and min, in ms; overhead is the median minus the median of `/bin/true` alone. The last rows break taskmasterd's time down: `-version` is its start-up and exit alone (the Go runtime, package initialisation with the catching of every signal beside it: everything before the flags are read); `make build` links async preemption off, so there is no self re-exec. `gofloor` is a static Go program that only exits, built by the benchmark as taskmaster's binaries are: what the Go runtime costs any Go program before its first line runs, the floor that no Go init can go under. `goinit` (bench/baseline/goinit, built as taskmasterd is) is the least Go init of one command that keeps taskmasterd's signal guarantees: it catches every signal as taskmasterd does (package sigcatch), makes itself a subreaper, starts the command, passes every signal on to it, reaps every child and exits with the command's status, and does nothing else (no shutdown, no sweep of leftovers, no log, no state); alone, it only catches every signal and exits.\n\n", b.singleRuns)
	fmt.Fprintf(&sb, "| command | median (p10–p90) ms | min ms | overhead ms |\n|---|---|---|---|\n")
	base := summarize(ms(times[0])).median
	for i, v := range variants {
		s := summarize(ms(times[i]))
		fmt.Fprintf(&sb, "| `%s` | %s | %s | %s |\n", v.name, s.medianSpread(), num(s.min), num(s.median-base))
	}
	over := func(i int) float64 { return summarize(ms(times[i])).median - base }
	tm, tini, version, gofloor := over(2), over(1), over(3), over(4)
	goinit, command := over(5), over(5)-over(6)
	fmt.Fprintf(&sb, "\nOf taskmasterd's %s ms over `/bin/true`, %s ms is its start-up and exit alone, and %s ms of that is the Go runtime's floor.", num(tm), num(version), num(gofloor))
	fmt.Fprintf(&sb, " The least Go init of one command is %s ms over `/bin/true` (%.2fx tini's overhead), %s ms of it the command's start, wait and reaping beyond the catching of every signal: taskmasterd's start-up and that come to %s ms, under which single-command mode cannot go but in a smaller program; the other %s ms are its supervision (the reaper's thread, the supervisor's loop, the output poller, its log lines, the shutdown).\n",
		num(goinit), ratio(goinit, tini), num(command), num(version+command), num(tm-version-command))
	b.check("single-command overhead under 3 ms over /bin/true", tm < 3,
		"%s ms (the Go floor alone: %s ms; taskmasterd's start-up and a Go init's command: %s ms)", num(tm), num(gofloor), num(version+command))
	b.check("single-command overhead within 2x tini's", tm <= 2*tini,
		"%.2fx (%s ms against %s ms; the least Go init of one command: %.2fx)", ratio(tm, tini), num(tm), num(tini), ratio(goinit, tini))
	return sb.String(), nil
}

// timeRun runs argv, with env added to the environment, to its end and
// returns how long that took. A non-zero exit is an error.
func timeRun(argv, env []string) (time.Duration, error) {
	return timeRunCloned(argv, env, 0)
}

// timeRunAsInit is timeRun with argv as PID 1 of a new PID namespace.
func timeRunAsInit(argv, env []string) (time.Duration, error) {
	return timeRunCloned(argv, env, syscall.CLONE_NEWPID)
}

// timeRunCloned is timeRun with cloneflags (CLONE_NEW*) for the process.
func timeRunCloned(argv, env []string, cloneflags uintptr) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Cloneflags: cloneflags}
	t0 := time.Now()
	p, err := track(argv[0], cmd, "")
	if err != nil {
		return 0, err
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.pid, syscall.SIGKILL)
		<-p.done
		return 0, fmt.Errorf("still running after 10 s")
	}
	d := time.Since(t0)
	if !p.state.Success() {
		return 0, fmt.Errorf("%v", p.state)
	}
	return d, nil
}
