package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// outputLine is what the job writes over and over, `yes` adding the
// newline: 63 characters, so that every line is 64 bytes, far below the
// 64 KiB at which taskmasterd cuts a line, and a whole number of lines
// makes any size that is a multiple of 64. Letters and digits only, so
// that it needs no quoting in a shell, JSON or supervisord's command line.
const outputLine = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"

// outputStall is how long the output file may stop growing before the run
// is given up.
const outputStall = 30 * time.Second

// capturer is a way to get a job's stdout into a file: it starts job (a
// shell command line) as PID 1 of a fresh PID namespace, or under a
// supervisor that is, with its stdout going to out. ready is passed on to
// startInNamespaceReady.
type capturer struct {
	name   string
	copies bool // PID 1 copies the output itself (its CPU time is reported)
	start  func(job, out string, ready func(*proc) error) (*proc, error)
}

// outputSample is one run of one capturer.
type outputSample struct {
	elapsed time.Duration // from head's exec until the file holds every byte
	cpu     time.Duration // PID 1's CPU time meanwhile (copies only)
}

// capturers are the ways the output section compares: taskmasterd and
// supervisord each with one job whose stdout goes to a file, and a plain
// shell redirect, where head writes to the file itself.
func (b *bench) capturers() []capturer {
	return []capturer{
		{"taskmasterd", true, func(job, out string, ready func(*proc) error) (*proc, error) {
			spec, err := json.Marshal(map[string]any{
				"cmd": []string{"/bin/sh", "-c", job}, "stdout": out,
				"autorestart": false, "starttime": 0,
			})
			if err != nil {
				return nil, err
			}
			s, err := b.startTaskmasterd("taskmasterd", map[string]string{"w": string(spec)}, ready)
			if err != nil {
				return nil, err
			}
			return s.proc, nil
		}},
		{"supervisord", true, func(job, out string, ready func(*proc) error) (*proc, error) {
			program := fmt.Sprintf("[program:w]\ncommand=/bin/sh -c \"%s\"\nstdout_logfile=%s\nstdout_logfile_maxbytes=0\nautorestart=false\nstartsecs=0\n", job, out)
			s, err := b.startSupervisord("supervisord", program, ready)
			if err != nil {
				return nil, err
			}
			return s.proc, nil
		}},
		// The floor of every capture that copies: the bytes cross a second
		// pipe and a second process, which does nothing but copy them.
		{"shell pipe through cat", false, func(job, out string, ready func(*proc) error) (*proc, error) {
			argv := []string{"/bin/sh", "-c", fmt.Sprintf("%s | cat > '%s'", job, out)}
			return startInNamespaceReady("cat", argv, filepath.Join(b.tmp, "output-cat.log"), ready)
		}},
		// Last: the baseline of the ratios.
		{"shell redirect", false, func(job, out string, ready func(*proc) error) (*proc, error) {
			argv := []string{"/bin/sh", "-c", fmt.Sprintf("%s > '%s'", job, out)}
			return startInNamespaceReady("shell", argv, filepath.Join(b.tmp, "output-shell.log"), ready)
		}},
	}
}

// output measures how fast a job's b.outputBytes of stdout reach a file
// through each capturer, b.runs times each, alternating.
func (b *bench) output(ctx context.Context) (string, error) {
	if b.outputBytes%int64(len(outputLine)+1) != 0 {
		return "", fmt.Errorf("output: %d bytes is not a whole number of %d-byte lines", b.outputBytes, len(outputLine)+1)
	}
	caps := b.capturers()
	samples := make([][]outputSample, len(caps))
	for run := range b.runs {
		for k := range caps {
			i := (run + k) % len(caps) // alternate who goes first
			progress("output throughput: %d MiB, run %d of %d, %s", b.outputBytes>>20, run+1, b.runs, caps[i].name)
			s, err := b.outputRun(ctx, caps[i])
			if err != nil {
				return "", err
			}
			samples[i] = append(samples[i], s)
		}
	}
	return b.outputReport(caps, samples), nil
}

// outputJob is the job's shell command line: b.outputBytes of lines.
func (b *bench) outputJob() string {
	return fmt.Sprintf("yes %s | head -c %d", outputLine, b.outputBytes)
}

// outputRun runs the job once under c, times it from head's exec until the
// file is complete, checks the file and removes it.
func (b *bench) outputRun(ctx context.Context, c capturer) (outputSample, error) {
	var s outputSample
	out := filepath.Join(b.tmp, "output.log")
	if err := os.Remove(out); err != nil && !errors.Is(err, os.ErrNotExist) {
		return s, err
	}
	defer os.Remove(out) // a GiB, maybe several runs of it: the disk
	p, w, err := b.startCapture(ctx, c, out)
	if err != nil {
		return s, err
	}
	defer p.stop()
	defer w.close()
	head, err := w.next(p, "head", time.Now().Add(30*time.Second))
	if err != nil {
		return s, fmt.Errorf("%s: %w", c.name, err)
	}
	var cpu0 time.Duration
	if c.copies {
		if cpu0, err = cpuTime(p.pid); err != nil {
			return s, err
		}
	}
	end, err := awaitSize(ctx, p, out, b.outputBytes)
	if err != nil {
		return s, err
	}
	s.elapsed = end - head.at
	if c.copies {
		cpu1, err := cpuTime(p.pid)
		if err != nil {
			return s, err
		}
		s.cpu = cpu1 - cpu0
	}
	if err := w.err(); err != nil {
		return s, err
	}
	if err := verifyLines(out, b.outputBytes); err != nil {
		return s, fmt.Errorf("%s: %w", c.name, err)
	}
	return s, nil
}

// startCapture starts the job under c, writing to out, and watches the
// execs of its namespace from the first.
func (b *bench) startCapture(ctx context.Context, c capturer, out string) (*proc, *execWatch, error) {
	launch := func(ready func(*proc) error) (*proc, error) { return c.start(b.outputJob(), out, ready) }
	p, w, _, err := startWatched(ctx, c.name, launch, "", 0, time.Now())
	return p, w, err
}

// awaitSize waits until the file path holds size bytes, and returns the
// monotonic time it saw that. It reads the file's size every millisecond:
// a stat costs the machine little, and the capturer nothing.
func awaitSize(ctx context.Context, p *proc, path string, size int64) (time.Duration, error) {
	var last int64 = -1
	grew := time.Now()
	for {
		n := outputFileSize(path)
		switch {
		case n == size:
			return monotonic(), nil
		case n > size:
			return 0, fmt.Errorf("%s: %s holds %d bytes, more than the %d written", p.name, path, n, size)
		case n != last:
			last, grew = n, time.Now()
		case time.Since(grew) > outputStall:
			return 0, fmt.Errorf("%s: %s stuck at %d of %d bytes for %v%s", p.name, path, n, size, outputStall, p.logTail())
		}
		// The shell ends with its command: its file is complete by then.
		if p.exited() && outputFileSize(path) != size {
			return 0, fmt.Errorf("%s ended with %d of %d bytes in %s (%v)%s", p.name, outputFileSize(path), size, path, p.state, p.logTail())
		}
		if err := sleep(ctx, time.Millisecond); err != nil {
			return 0, err
		}
	}
}

// outputFileSize returns the size of path, -1 if it does not exist (yet).
func outputFileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return -1
	}
	return fi.Size()
}

// verifyLines checks that path holds exactly size bytes of outputLine
// lines: no line lost, cut, doubled or mixed up.
func verifyLines(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	// A block of whole lines: every chunk read must be (a prefix of) it.
	want := bytes.Repeat([]byte(outputLine+"\n"), (1<<20)/(len(outputLine)+1))
	got := make([]byte, len(want))
	var at int64
	for {
		n, err := io.ReadFull(f, got)
		if !bytes.Equal(got[:n], want[:n]) {
			return fmt.Errorf("%s: unexpected content after byte %d%s", path, at, firstDifference(got[:n], want[:n]))
		}
		at += int64(n)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if at != size {
		return fmt.Errorf("%s: %d bytes, want %d", path, at, size)
	}
	return nil
}

// firstDifference describes where got and want, of one length, first
// differ.
func firstDifference(got, want []byte) string {
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf(" (at +%d: %q)", i, got[i:min(len(got), i+len(outputLine)+1)])
		}
	}
	return ""
}

// outputReport is the section's text.
func (b *bench) outputReport(caps []capturer, samples [][]outputSample) string {
	var sb strings.Builder
	mib := float64(b.outputBytes) / (1 << 20)
	fmt.Fprintf(&sb, "## 7. Output throughput\n\n")
	fmt.Fprintf(&sb, "A job writes %s MiB to its stdout: `/bin/sh -c '%s'`, lines of 64 bytes. taskmasterd runs it as a job `{\"cmd\": [\"/bin/sh\", \"-c\", ...], \"stdout\": FILE, \"autorestart\": false, \"starttime\": 0}`, supervisord as a `[program:w]` with `stdout_logfile=FILE`, `stdout_logfile_maxbytes=0` (no rotation), `autorestart=false`, `startsecs=0`; both read the job's stdout pipe and write the file themselves. The shell redirect is `/bin/sh -c '... > FILE'`, where `head` writes to the file directly: the machine's own limit, pipe and page cache. The pipe through cat, `/bin/sh -c '... | cat > FILE'`, is the floor of any capture that copies: GNU cat does nothing but read the pipe and write the file, so what it adds to the redirect is what a second pipe and a second copy cost, before any supervision. Each runs as PID 1 of a fresh PID namespace. Time runs from the exec of `head` (the writer, as timestamped by the kernel's process events connector), which leaves the supervisor's own start-up out, until FILE holds every byte (its size read every millisecond); the file is then checked line by line and removed. FILE is on the local disk, written to the page cache. **PID 1 CPU** is the supervisor's CPU time over that time, all threads: the cost of the copy. Median (min–max) of %d runs, contenders alternating; **time / shell** is the ratio of median times.\n\n", num(mib), b.outputJob(), b.runs)
	sb.WriteString("| capture | MiB/s | seconds | PID 1 CPU s | time / shell |\n|---|---|---|---|---|\n")
	shell := summarize(outputSeconds(samples[len(caps)-1])).median
	var medianTime, medianCPU []float64
	for i, c := range caps {
		secs := outputSeconds(samples[i])
		rates := make([]float64, len(secs))
		for j, s := range secs {
			rates[j] = mib / s
		}
		cpu := "—"
		if c.copies {
			var cs []float64
			for _, s := range samples[i] {
				cs = append(cs, s.cpu.Seconds())
			}
			cpu = summarize(cs).medianRange()
		}
		t := summarize(secs)
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %.2fx |\n", c.name, summarize(rates).medianRange(), t.medianRange(), cpu, ratio(t.median, shell))
		medianTime = append(medianTime, t.median)
		medianCPU = append(medianCPU, cpuMedian(samples[i]))
	}
	b.outputChecks(caps, medianTime, medianCPU)
	return sb.String()
}

// outputChecks records the section's targets (issue 16): taskmasterd's
// time within 1.05x of the shell redirect's, below supervisord's, and its
// PID 1 CPU below supervisord's. caps holds taskmasterd first, supervisord
// second, the redirect last.
func (b *bench) outputChecks(caps []capturer, times, cpus []float64) {
	tm, sd, shell := times[0], times[1], times[len(caps)-1]
	catFloor := times[len(caps)-2]
	b.check("output within 1.05x of the shell redirect", ratio(tm, shell) <= 1.05,
		"%.2fx (a pipe through cat: %.2fx)", ratio(tm, shell), ratio(catFloor, shell))
	b.check("output faster than supervisord", tm < sd, "%.2fx of its time", ratio(tm, sd))
	b.check("output: less PID 1 CPU than supervisord", cpus[0] < cpus[1],
		"%s s against %s s", num(cpus[0]), num(cpus[1]))
}

// cpuMedian is the median PID 1 CPU time of samples, in seconds.
func cpuMedian(samples []outputSample) float64 {
	cs := make([]float64, len(samples))
	for i, s := range samples {
		cs[i] = s.cpu.Seconds()
	}
	return summarize(cs).median
}

// outputSeconds returns the elapsed times of samples in seconds.
func outputSeconds(samples []outputSample) []float64 {
	out := make([]float64, len(samples))
	for i, s := range samples {
		out[i] = s.elapsed.Seconds()
	}
	return out
}
