package main

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat: USER_HZ,
// which Linux fixes at 100 for user space whatever the kernel's HZ.
const clockTick = 10 * time.Millisecond

// memSetup is one daemon whose memory the footprint section measures.
type memSetup struct {
	name  string
	procs int
	start func() (*supervisor, error)
}

// memSample is one fresh start's memory, in KiB.
type memSample struct{ rss, pss, anon uint64 }

// footprint measures what the daemons cost while they do nothing: their
// memory with 1 and with b.footprintN processes, the size of their
// programs, and the CPU time and context switches they use over an idle
// window.
func (b *bench) footprint(ctx context.Context) (string, error) {
	setups := b.memSetups()
	mem, err := b.memoryRuns(ctx, setups)
	if err != nil {
		return "", err
	}
	idle, err := b.idleWindow(ctx)
	if err != nil {
		return "", err
	}
	b.footprintChecks(setups, mem, idle)
	image, imageErr := b.imageSize(ctx)
	if imageErr == nil {
		b.check("image under 15 MB", image < 15e6, "%.2f MB", float64(image)/1e6)
	}
	var sb strings.Builder
	sb.WriteString("## 6. Footprint\n\n")
	sb.WriteString(b.memoryReport(setups, mem))
	sb.WriteString(b.sizeReport(image, imageErr))
	sb.WriteString(b.idleReport(idle))
	return sb.String(), nil
}

// memSetups are taskmasterd and supervisord with one job (program) of 1
// and of b.footprintN instances.
func (b *bench) memSetups() []memSetup {
	var out []memSetup
	for _, n := range []int{1, b.footprintN} {
		out = append(out,
			memSetup{"taskmasterd", n, func() (*supervisor, error) {
				return b.startTaskmasterd("taskmasterd", taskmasterdJobs(1, n, ""), nil)
			}},
			memSetup{"supervisord", n, func() (*supervisor, error) {
				return b.startSupervisord("supervisord", supervisordPrograms(1, n, ""), nil)
			}})
	}
	return out
}

// memoryRuns starts every setup afresh b.memRuns times and measures each
// daemon's memory once its processes are RUNNING and b.settle has passed.
// The setups of a run run at the same time.
func (b *bench) memoryRuns(ctx context.Context, setups []memSetup) ([][]memSample, error) {
	out := make([][]memSample, len(setups)+1) // the Go floor last
	for run := range b.memRuns {
		progress("footprint: memory, run %d of %d", run+1, b.memRuns)
		got, err := b.memoryRun(ctx, setups)
		if err != nil {
			return nil, err
		}
		for i, s := range got {
			out[i] = append(out[i], s)
		}
	}
	return out, nil
}

// memoryRun is one run of memoryRuns.
func (b *bench) memoryRun(ctx context.Context, setups []memSetup) ([]memSample, error) {
	sups := make([]*supervisor, 0, len(setups))
	defer func() {
		for _, s := range sups {
			s.stop()
		}
	}()
	for _, m := range setups {
		s, err := m.start()
		if err != nil {
			return nil, err
		}
		sups = append(sups, s)
	}
	for i, s := range sups {
		if err := waitRunning(ctx, s, setups[i].procs); err != nil {
			return nil, err
		}
	}
	floor, err := b.startFloorAsleep()
	if err != nil {
		return nil, err
	}
	defer func() { _ = floor.Process.Kill(); _ = floor.Wait() }()
	if err := sleep(ctx, b.settle); err != nil {
		return nil, err
	}
	out := make([]memSample, 0, len(sups)+1)
	for _, s := range sups {
		if err := s.alive(); err != nil {
			return nil, err
		}
		m, err := memSampleOf(s.pid)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	m, err := memSampleOf(floor.Process.Pid)
	if err != nil {
		return nil, fmt.Errorf("gofloor: %w", err)
	}
	return append(out, m), nil
}

// startFloorAsleep starts the Go floor program asleep: what the Go
// runtime alone keeps resident.
func (b *bench) startFloorAsleep() (*exec.Cmd, error) {
	floor, err := b.goFloor()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(floor, "sleep")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd, cmd.Start()
}

// memSampleOf reads pid's memory.
func memSampleOf(pid int) (memSample, error) {
	rss, pss, err := memory(pid)
	if err != nil {
		return memSample{}, err
	}
	return memSample{rss: rss, pss: pss, anon: anonymous(pid)}, nil
}

// memoryReport is the memory table: the setups, then the Go floor.
func (b *bench) memoryReport(setups []memSetup, mem [][]memSample) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "**Memory**: resident (RSS) and proportional (PSS: shared pages divided among the processes sharing them) set size of the daemon process itself, from `/proc/PID/smaps_rollup`, with one job (supervisord: one program) of 1 and of %d instances of `%s` (`numprocs`), measured %g s after every process is RUNNING. The four daemons run at the same time, each as PID 1 of its own PID namespace, taskmasterd with its HTTP listener on (dashboard, live link, metrics), as it is by default; the jobs' own memory is not counted. RSS is split in two: **anon**, the process's own memory (heap, stacks, the Go runtime's arenas), and **file**, the pages of its program file it has mapped: shared with the page cache and with every other process running the same program, dropped and read again under memory pressure, and mapped by the kernel in blocks around each page touched (fault-around), so that a big static program shows more of itself than it runs. The last row is `gofloor` (section 8) asleep: what the Go runtime alone keeps resident. Median (min–max) of %d fresh starts; MiB = 2^20 bytes, MB = 10^6 bytes.\n\n",
		b.footprintN, sleeper, b.settle.Seconds(), b.memRuns)
	sb.WriteString("| daemon | processes | RSS MiB | RSS MB | anon MiB | file MiB | PSS MiB |\n|---|---|---|---|---|---|---|\n")
	row := func(name, procs string, samples []memSample) {
		mib := func(f func(memSample) uint64) string {
			return summarize(scale(memColumn(samples, f), 1024.0/(1<<20))).medianRange()
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s | %s |\n", name, procs,
			mib(func(m memSample) uint64 { return m.rss }),
			summarize(scale(memColumn(samples, func(m memSample) uint64 { return m.rss }), 1024.0/1e6)).medianRange(),
			mib(func(m memSample) uint64 { return m.anon }),
			mib(func(m memSample) uint64 { return m.rss - min(m.anon, m.rss) }),
			mib(func(m memSample) uint64 { return m.pss }))
	}
	for i, m := range setups {
		row(m.name, strconv.Itoa(m.procs), mem[i])
	}
	row("gofloor, asleep", "—", mem[len(setups)])
	return sb.String()
}

// memColumn is one figure of samples, in KiB.
func memColumn(samples []memSample, f func(memSample) uint64) []float64 {
	out := make([]float64, len(samples))
	for i, s := range samples {
		out[i] = float64(f(s))
	}
	return out
}

// scale returns xs multiplied by f.
func scale(xs []float64, f float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = x * f
	}
	return out
}

// footprintChecks records the section's targets: taskmasterd's RSS with
// b.footprintN processes, and its CPU ticks over the idle window.
func (b *bench) footprintChecks(setups []memSetup, mem [][]memSample, idle []idleSample) {
	for i, m := range setups {
		if m.name != "taskmasterd" || m.procs != b.footprintN {
			continue
		}
		rssOf := func(m memSample) uint64 { return m.rss }
		rss := summarize(memColumn(mem[i], rssOf)).median * 1024 // bytes
		anon := summarize(memColumn(mem[i], func(m memSample) uint64 { return m.anon })).median * 1024
		floor := summarize(memColumn(mem[len(setups)], rssOf)).median * 1024
		b.check(fmt.Sprintf("idle RSS under 10 MB with %d processes, HTTP listener on", m.procs), rss < 10e6,
			"%.2f MB (%.2f MiB), median of %d; of it %.2f MB anonymous (the Go floor: %.2f MB RSS)", rss/1e6, rss/(1<<20), len(mem[i]), anon/1e6, floor/1e6)
	}
	if fi, err := os.Stat(b.taskmasterd); err == nil {
		b.check("taskmasterd under 12 MB, static", fi.Size() < 12e6 && linking(b.taskmasterd) == "static",
			"%.2f MB, %s", float64(fi.Size())/1e6, linking(b.taskmasterd))
	}
	tm := idle[0]
	b.check(fmt.Sprintf("zero CPU ticks while idle (%d processes, %g s, HTTP listener on, a dashboard connected)", b.idleProcs, b.window.Seconds()),
		tm.ticks == 0, "%d ticks (%s ms of CPU by schedstat)", tm.ticks, num(float64(tm.cpu)/1e6))
}

// sizeReport is the table of the programs' sizes on disk.
func (b *bench) sizeReport(image int64, imageErr error) string {
	var sb strings.Builder
	sb.WriteString("\n**Program size**: bytes on disk of each program file (taskmaster's as `make build` makes them: static, stripped). A dynamically linked program also maps the shared libraries it names, which other programs share. supervisord is a Python program: its size is the interpreter named on its `#!` line plus the files of its Debian package (`dpkg -L supervisor`), without the Python standard library it imports.\n\n")
	sb.WriteString("| program | bytes | MiB | linking |\n|---|---|---|---|\n")
	for _, p := range []string{b.taskmasterd, b.taskmasterctl, b.tini, b.s6svscan, filepath.Join(filepath.Dir(b.s6svscan), "s6-supervise")} {
		sb.WriteString(sizeRow(filepath.Base(p), p))
	}
	if floor, err := b.goFloor(); err == nil {
		sb.WriteString(sizeRow("gofloor (section 8)", floor))
	}
	if imageErr != nil {
		fmt.Fprintf(&sb, "| taskmaster image | n/a (%v) | | |\n", imageErr)
	} else {
		fmt.Fprintf(&sb, "| taskmaster image (the repository's `Dockerfile`: `FROM scratch`, the two programs above; `docker image inspect`) | %d | %s | — |\n", image, num(float64(image)/(1<<20)))
	}
	interp := shebang(b.supervisord)
	if interp != "" {
		sb.WriteString(sizeRow("python (supervisord's interpreter)", interp))
	}
	if n, files, err := packageSize("supervisor"); err == nil {
		fmt.Fprintf(&sb, "| supervisor package (%d files) | %d | %s | Python |\n", files, n, num(float64(n)/(1<<20)))
	} else {
		fmt.Fprintf(&sb, "| supervisor package | n/a (%v) | | Python |\n", err)
	}
	return sb.String()
}

// sizeRow is a size table row for the program at path, with symlinks
// followed.
func sizeRow(name, path string) string {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return fmt.Sprintf("| %s | n/a (%v) | | |\n", name, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return fmt.Sprintf("| %s | n/a (%v) | | |\n", name, err)
	}
	return fmt.Sprintf("| %s (`%s`) | %d | %s | %s |\n", name, real, fi.Size(), num(float64(fi.Size())/(1<<20)), linking(real))
}

// linking says whether the ELF program at path is static or which shared
// libraries it needs.
func linking(path string) string {
	f, err := elf.Open(path)
	if err != nil {
		return "not ELF"
	}
	defer f.Close()
	libs, _ := f.ImportedLibraries()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "dynamic: " + strings.Join(libs, ", ")
		}
	}
	return "static"
}

// shebang returns the interpreter named on the #! line of the script at
// path, or "".
func shebang(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return ""
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}

// packageSize sums the sizes of the regular files of the Debian package
// pkg.
func packageSize(pkg string) (bytes int64, files int, err error) {
	out, err := exec.Command("dpkg", "-L", pkg).Output()
	if err != nil {
		return 0, 0, fmt.Errorf("dpkg -L %s: %w", pkg, err)
	}
	for _, p := range strings.Fields(string(out)) {
		fi, err := os.Lstat(p)
		if err == nil && fi.Mode().IsRegular() {
			bytes += fi.Size()
			files++
		}
	}
	return bytes, files, nil
}

// idleSetup is one process measured over the idle window.
type idleSetup struct {
	name    string
	procs   int // its sleep processes
	start   func() (*proc, error)
	running func(ctx context.Context, p *proc) error // waits until it is at rest
	release func()                                   // if not nil, ends what running set up
}

// idleSample is what one setup used over the idle window.
type idleSample struct {
	name     string
	elapsed  time.Duration
	ticks    uint64        // utime + stime, clock ticks, the whole process
	cpu      time.Duration // schedstat, its threads
	switches uint64        // voluntary + involuntary, its threads
	threads  int
}

// idleSetups are the supervisors with b.idleProcs processes (ctlJobs jobs,
// or one job per process when fewer), and the single-command inits. The
// supervisor comes first: footprintChecks reads it there.
func (b *bench) idleSetups() []idleSetup {
	jobs := min(ctlJobs, b.idleProcs)
	per := b.idleProcs / jobs
	sup := func(name string, start func() (*supervisor, error)) idleSetup {
		var s *supervisor
		return idleSetup{name: name, procs: jobs * per,
			start: func() (*proc, error) {
				var err error
				if s, err = start(); err != nil {
					return nil, err
				}
				return s.proc, nil
			},
			running: func(ctx context.Context, _ *proc) error { return waitRunning(ctx, s, jobs*per) },
		}
	}
	// taskmasterd idles as it would be watched: its HTTP listener on, and
	// a dashboard connected to the live link, registered and holding the
	// snapshot of every job, as the dashboard's page is once loaded.
	var tmd *supervisor
	var dashboard *linkClient
	tm := idleSetup{name: fmt.Sprintf("taskmasterd, %d jobs × %d, a dashboard connected", jobs, per), procs: jobs * per,
		start: func() (*proc, error) {
			var err error
			if tmd, err = b.startTaskmasterd("taskmasterd", taskmasterdJobs(jobs, per, ""), nil); err != nil {
				return nil, err
			}
			return tmd.proc, nil
		},
		running: func(ctx context.Context, _ *proc) error {
			if err := waitRunning(ctx, tmd, jobs*per); err != nil {
				return err
			}
			var err error
			dashboard, err = dialDashboard(ctx, tmd.http)
			return err
		},
		release: func() {
			if dashboard != nil {
				dashboard.c.CloseNow()
			}
		},
	}
	single := func(name string, argv ...string) idleSetup {
		return idleSetup{name: name, procs: 1,
			start: func() (*proc, error) {
				return startInNamespace(name, argv, filepath.Join(b.tmp, strings.Fields(name)[0]+"-idle.log"))
			},
			running: func(ctx context.Context, p *proc) error { return waitChildren(ctx, p, "sleep", 1, 30*time.Second) },
		}
	}
	return []idleSetup{
		tm,
		sup(fmt.Sprintf("supervisord, %d programs × %d", jobs, per), func() (*supervisor, error) {
			return b.startSupervisord("supervisord", supervisordPrograms(jobs, per, ""), nil)
		}),
		single("taskmasterd -- sleep", b.taskmasterd, "--", "/bin/sleep", "100000"),
		single("tini -- sleep", b.tini, "--", "/bin/sleep", "100000"),
	}
}

// idleWindow starts every idle setup at once, waits until they are at rest
// and b.settle more, and measures them over one window of b.window.
func (b *bench) idleWindow(ctx context.Context) ([]idleSample, error) {
	setups := b.idleSetups()
	procs := make([]*proc, 0, len(setups))
	defer func() {
		for _, s := range setups {
			if s.release != nil {
				s.release()
			}
		}
		for _, p := range procs {
			p.stop()
		}
	}()
	for _, s := range setups {
		p, err := s.start()
		if err != nil {
			return nil, err
		}
		procs = append(procs, p)
	}
	for i, s := range setups {
		if err := s.running(ctx, procs[i]); err != nil {
			return nil, err
		}
	}
	progress("footprint: idle, %v settle + %v window", b.settle, b.window)
	if err := sleep(ctx, b.settle); err != nil {
		return nil, err
	}
	before, err := usages(procs)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := sleep(ctx, b.window); err != nil {
		return nil, err
	}
	after, err := usages(procs)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(t0)
	out := make([]idleSample, len(setups))
	for i, s := range setups {
		if err := procs[i].alive(); err != nil {
			return nil, err
		}
		out[i] = idleSample{
			name:     s.name,
			elapsed:  elapsed,
			ticks:    after[i].ticks - before[i].ticks,
			cpu:      after[i].cpu - before[i].cpu,
			switches: after[i].switches - before[i].switches,
			threads:  threads(procs[i].pid),
		}
	}
	return out, nil
}

// usage is the CPU and scheduling a process has used so far.
type usage struct {
	ticks    uint64
	cpu      time.Duration
	switches uint64
}

// usages reads the usage of every process of procs, as close together as
// possible.
func usages(procs []*proc) ([]usage, error) {
	out := make([]usage, len(procs))
	for i, p := range procs {
		var err error
		if out[i].ticks, err = cpuTicks(p.pid); err != nil {
			return nil, err
		}
		if out[i].cpu, err = cpuTime(p.pid); err != nil {
			return nil, err
		}
		if out[i].switches, err = ctxSwitches(p.pid); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// cpuTicks returns utime + stime of pid from /proc/PID/stat, in clock
// ticks: the whole process, threads that have ended included.
func cpuTicks(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which may hold anything, start
	// after the last ')': f[0] is field 3, utime (14) is f[11], stime f[12].
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, fmt.Errorf("pid %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("pid %d: short stat", pid)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("pid %d: utime %q, stime %q", pid, f[11], f[12])
	}
	return utime + stime, nil
}

// idleReport is the idle table.
func (b *bench) idleReport(idle []idleSample) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n**Idle**: what each daemon used while nothing happened, over a single window of %s s (one window, no repetitions: %d windows would take too long; the four run at the same time, each as PID 1 of its own PID namespace), starting %g s after every process was RUNNING. Every job is `%s`. CPU ticks are utime + stime of the whole process from `/proc/PID/stat`, in ticks of %v (USER_HZ); CPU time is the sum of its threads' `/proc/PID/task/*/schedstat`, in ns; context switches are its threads', voluntary + involuntary, from `/proc/PID/task/*/status`. taskmasterd's HTTP listener is on (as it is in every section) and a client of the live link is connected to it as the dashboard's page is once loaded: registered, holding the snapshot of every job. supervisord wakes up every second to poll its processes; tini waits for signals with a 1 s timeout.\n\n",
		num(idle[0].elapsed.Seconds()), b.runs, b.settle.Seconds(), sleeper, clockTick)
	sb.WriteString("| daemon | CPU ticks | CPU ms | CPU µs/s | context switches | switches/s | threads |\n|---|---|---|---|---|---|---|\n")
	for _, s := range idle {
		secs := s.elapsed.Seconds()
		fmt.Fprintf(&sb, "| %s | %d | %s | %s | %d | %s | %d |\n", s.name, s.ticks,
			num(float64(s.cpu)/1e6), num(float64(s.cpu)/1e3/secs), s.switches, num(float64(s.switches)/secs), s.threads)
	}
	return sb.String()
}
