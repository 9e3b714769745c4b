package main

import (
	"fmt"
	"strings"
	"time"
)

// scaleReport is the scale section's text and targets.
func (b *bench) scaleReport(r scaleResult) string {
	var sb strings.Builder
	sb.WriteString("## 13. Scale\n\n")
	fmt.Fprintf(&sb, "taskmasterd with N instances of `%s` (`\"starttime\": 0`) in as few jobs as `numprocs` allows (at most 1,024 instances each: 5 jobs of 1,000 for N = 5,000), N = %s, each run a fresh start as PID 1 of its own PID namespace, interleaved with the raw `posix_spawn` loop at the same N; taskmasterd with one instance starts once a run too, and is subtracted from the costs per instance. supervisord is left out: at 1,000 processes it already takes seconds (sections 1 and 2), and it grows worse than linearly. Median (min–max) of %d runs.", sleeper, joinInts(b.scaleNs), b.scaleRuns)
	if len(r.limits) > 0 {
		fmt.Fprintf(&sb, " Limits, raised for the section and restored after it: %s.", strings.Join(r.limits, "; "))
	}
	sb.WriteString("\n\n")
	b.scaleSpawnTable(&sb, r)
	b.scaleCostTable(&sb, r)
	b.scaleStatusTable(&sb, r)
	b.reloadTable(&sb, r.reload)
	return sb.String()
}

// scaleSpawnTable is the spawn and stop table, with the slopes.
func (b *bench) scaleSpawnTable(sb *strings.Builder, r scaleResult) {
	sb.WriteString("**Spawn and stop**: spawn as in section 1 (the supervisor's exec until the last instance's exec, by the process events connector); stop as in section 2 (SIGTERM until the namespace is empty).\n\n")
	sb.WriteString("| N | taskmasterd spawn ms | raw loop ms | taskmasterd / raw | taskmasterd stop ms |\n|---|---|---|---|---|\n")
	for _, n := range b.scaleNs {
		spawn, stop := ms(durations(r.tm[n], func(s scaleSample) time.Duration { return s.spawn })),
			ms(durations(r.tm[n], func(s scaleSample) time.Duration { return s.stop }))
		tm, raw := summarize(spawn).median, summarize(r.raw[n]).median
		fmt.Fprintf(sb, "| %d | %s | %s | %.2fx | %s |\n", n, summarize(spawn).medianRange(),
			summarize(r.raw[n]).medianRange(), ratio(tm, raw), summarize(stop).medianRange())
		b.check(fmt.Sprintf("spawn within 1.5x of the raw loop, N=%d", n), ratio(tm, raw) <= 1.5,
			"%.2fx (%s ms against %s ms)", ratio(tm, raw), num(tm), num(raw))
	}
	if len(b.scaleNs) < 2 {
		return
	}
	n1, n2 := b.scaleNs[len(b.scaleNs)-2], b.scaleNs[len(b.scaleNs)-1]
	slope := func(xs1, xs2 []float64) string {
		return num((summarize(xs2).median - summarize(xs1).median) / float64(n2-n1) * 1000)
	}
	spawnMs := func(n int) []float64 {
		return ms(durations(r.tm[n], func(s scaleSample) time.Duration { return s.spawn }))
	}
	stopMs := func(n int) []float64 {
		return ms(durations(r.tm[n], func(s scaleSample) time.Duration { return s.stop }))
	}
	fmt.Fprintf(sb, "\nPer further instance from N = %d to %d ((t(N₂) − t(N₁)) / (N₂ − N₁)): taskmasterd spawns one in %s µs, the raw loop in %s µs; taskmasterd stops one in %s µs.\n\n",
		n1, n2, slope(spawnMs(n1), spawnMs(n2)), slope(r.raw[n1], r.raw[n2]), slope(stopMs(n1), stopMs(n2)))
}

// scaleCostTable is what each instance costs taskmasterd: the medians at
// each N less the median with one instance, over N − 1.
func (b *bench) scaleCostTable(sb *strings.Builder, r scaleResult) {
	sb.WriteString("**Cost per instance**, to size a container: taskmasterd's own resources, read from the host's `/proc` " +
		"once every instance has exec'd and " + fmt.Sprint(scaleSettle) + " more has passed, before anything asks taskmasterd anything: " +
		"RSS and PSS and anonymous memory (heap, stacks and the Go runtime's own, which a memory cgroup charges) from `/proc/PID/smaps_rollup`; " +
		"the Go heap's allocated objects (`go_memstats_heap_alloc_bytes` of its `/metrics`, read just after; it counts garbage not yet collected) and goroutines; " +
		"open descriptors (`/proc/PID/fd`); threads; CPU time (schedstat of its threads) since its exec, which holds the spawn of every instance. " +
		"Per instance: (value at N − value with 1 instance) / (N − 1). The instances' own memory is not counted: that is the program's.\n\n")
	sb.WriteString("| | 1 instance |")
	for _, n := range b.scaleNs {
		fmt.Fprintf(sb, " N=%d | per instance |", n)
	}
	sb.WriteString("\n|---|---|" + strings.Repeat("---|---|", len(b.scaleNs)) + "\n")
	kib := func(f func(scaleSample) uint64) func(scaleSample) float64 {
		return func(s scaleSample) float64 { return float64(f(s)) * 1024 }
	}
	rows := []struct {
		name       string
		value      func(scaleSample) float64
		show, unit func(float64) string
	}{
		{"RSS", kib(func(s scaleSample) uint64 { return s.rss }), mib, bytesUnit},
		{"PSS", kib(func(s scaleSample) uint64 { return s.pss }), mib, bytesUnit},
		{"anonymous memory", kib(func(s scaleSample) uint64 { return s.anon }), mib, bytesUnit},
		{"Go heap (allocated)", func(s scaleSample) float64 { return s.heap }, mib, bytesUnit},
		{"goroutines", func(s scaleSample) float64 { return s.goroutines }, count, per},
		{"descriptors", func(s scaleSample) float64 { return float64(s.fds) }, count, per},
		{"threads", func(s scaleSample) float64 { return float64(s.threads) }, count, per},
		{"CPU time", func(s scaleSample) float64 { return float64(s.cpu) }, msUnit, usUnit},
	}
	for _, row := range rows {
		one := summarize(values(r.one, row.value)).median
		fmt.Fprintf(sb, "| %s | %s |", row.name, row.show(one))
		for _, n := range b.scaleNs {
			at := summarize(values(r.tm[n], row.value)).median
			fmt.Fprintf(sb, " %s | %s |", row.show(at), row.unit((at-one)/float64(max(n-1, 1))))
		}
		sb.WriteString("\n")
	}
}

// scaleStatusTable is the status table.
func (b *bench) scaleStatusTable(sb *strings.Builder, r scaleResult) {
	fmt.Fprintf(sb, "\n**Status of N instances**: wall time of `taskmasterctl status` (fork, exec, connect, request, print to `/dev/null`) and of one bare status request on a fresh connection from the benchmark (connect, request, the whole reply read and decoded), %d of each a run, alternating; the bytes taskmasterctl prints and the bytes of the reply's JSON.\n\n", b.scaleStatusRuns)
	sb.WriteString("| N | taskmasterctl status ms | bare request ms | printed bytes | reply bytes | reply bytes per instance |\n|---|---|---|---|---|---|\n")
	for _, n := range b.scaleNs {
		var cli, rpc []time.Duration
		var printed, reply []float64
		for _, s := range r.tm[n] {
			cli, rpc = append(cli, s.statusCLI...), append(rpc, s.statusRPC...)
			printed, reply = append(printed, float64(s.cliBytes)), append(reply, float64(s.replyBytes))
		}
		rb := summarize(reply).median
		fmt.Fprintf(sb, "| %d | %s | %s | %.0f | %.0f | %.0f |\n", n, summarize(ms(cli)).medianRange(),
			summarize(ms(rpc)).medianRange(), summarize(printed).median, rb, rb/float64(n))
	}
}

// reloadTable is the reload table and its target.
func (b *bench) reloadTable(sb *strings.Builder, r reloadResult) {
	fmt.Fprintf(sb, "\n**Reload of a directory of %d job files** of one instance each (`-watch off`, so that the benchmark says when to reload): the files written into taskmasterd's empty job directory, then SIGHUP; once they are 2 s old (taskmasterd keeps a file's parse between reloads only then: a change within the kernel's timestamp granularity could go unseen) and a `taskmasterctl reload` of an unchanged job has read them, %d times, one file's command changed and SIGHUP, the same with `taskmasterctl reload JOB` (which answers once the job is settled), and `taskmasterctl reload JOB` with nothing changed. Exec times are the process events connector's; RUNNING is when status first showed it (asked every 2 ms about the one job, every 5 ms about all); CPU is taskmasterd's from the SIGHUP to the (last) exec, or over `taskmasterctl reload`, so not while the benchmark asks for status; restarted counts the instances whose pid changed. Both reload paths stat every file of the directory, read and parse those that changed (taskmasterd keeps its parse of the others) and apply what changed.\n\n", r.jobs, b.reloadRuns)
	sb.WriteString("| reload | until | ms | taskmasterd CPU ms | processes restarted |\n|---|---|---|---|---|\n")
	fmt.Fprintf(sb, "| %d new files, SIGHUP | the last exec | %s | %s | %d started |\n", r.jobs, num(ms1(r.dirExec)), num(ms1(r.dirCPU)), r.jobs)
	fmt.Fprintf(sb, "| | status shows all RUNNING | %s | | |\n", num(ms1(r.dirRunning)))
	fmt.Fprintf(sb, "| 1 file of %d changed, SIGHUP | its new exec | %s | %s | %s |\n", r.jobs,
		summarize(ms(r.oneExec)).medianRange(), summarize(ms(r.oneCPU)).medianRange(), summarize(floats(r.oneRestarted)).countRange())
	fmt.Fprintf(sb, "| | status shows it RUNNING | %s | | |\n", summarize(ms(r.oneRunning)).medianRange())
	fmt.Fprintf(sb, "| 1 file of %d changed, `taskmasterctl reload JOB` | the reply | %s | %s | %s |\n", r.jobs,
		summarize(ms(r.ctlOne)).medianRange(), summarize(ms(r.ctlOneCPU)).medianRange(), summarize(floats(r.ctlRestarted)).countRange())
	fmt.Fprintf(sb, "| nothing changed, `taskmasterctl reload JOB` | the reply | %s | %s | %s |\n",
		summarize(ms(r.ctlSame)).medianRange(), summarize(ms(r.ctlSameCPU)).medianRange(), summarize(floats(r.sameRestarted)).countRange())
	one := true
	for _, c := range append(append([]int{}, r.oneRestarted...), r.ctlRestarted...) {
		one = one && c == 1
	}
	for _, c := range r.sameRestarted {
		one = one && c == 0
	}
	cpuOne, cpuDir := summarize(ms(r.oneCPU)).median, ms1(r.dirCPU)
	goal, met := fmt.Sprintf("a reload changing 1 of %d job files restarts that job only", r.jobs), one
	// With few files (-quick) the reload's fixed costs outweigh the
	// directory's: the share says something from hundreds of files on.
	if r.jobs >= 500 {
		goal += ", at under 10% of the directory's CPU"
		met = met && cpuOne < cpuDir/10
	}
	b.check(goal, met, "restarted %v, %v, unchanged %v; %s ms of CPU against %s ms",
		r.oneRestarted, r.ctlRestarted, r.sameRestarted, num(cpuOne), num(cpuDir))
}

// durations returns f of each sample.
func durations(samples []scaleSample, f func(scaleSample) time.Duration) []time.Duration {
	out := make([]time.Duration, len(samples))
	for i, s := range samples {
		out[i] = f(s)
	}
	return out
}

// values returns f of each sample.
func values(samples []scaleSample, f func(scaleSample) float64) []float64 {
	out := make([]float64, len(samples))
	for i, s := range samples {
		out[i] = f(s)
	}
	return out
}

// floats converts counts.
func floats(xs []int) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = float64(x)
	}
	return out
}

// ms1 is d in milliseconds.
func ms1(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// The formats of the cost table's cells: x in bytes, counts or ns.
func mib(x float64) string       { return num(x/(1<<20)) + " MiB" }
func bytesUnit(x float64) string { return fmt.Sprintf("%.0f B", x) }
func count(x float64) string     { return fmt.Sprintf("%.0f", x) }
func per(x float64) string       { return num(x) }
func msUnit(x float64) string    { return num(x/1e6) + " ms" }
func usUnit(x float64) string    { return num(x/1e3) + " µs" }

// joinInts is "5000, 10000".
func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}
