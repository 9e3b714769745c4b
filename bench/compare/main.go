// Command compare runs taskmaster's benchmarks: taskmasterd side by side
// with supervisord and tini in the same run, on the same machine, and the
// repository's Go micro-benchmarks. It prints a markdown report on stdout
// and its progress on stderr. `make bench` builds the binaries and runs it;
// docs/benchmarks.md explains every measurement.
//
// It needs root: every supervisor and init measured runs as PID 1 of a
// fresh PID namespace, which also guarantees that killing it ends every
// process it started.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == nsinitArg {
		nsinit(os.Args[2:])
		return
	}
	if len(os.Args) > 1 && os.Args[1] == linkClientsArg {
		os.Exit(linkClientsMain(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:]))
}

// bench holds the tools measured, how much to measure, and the targets
// checked along the way.
type bench struct {
	root                       string // the repository
	taskmasterd, taskmasterctl string
	tini                       string
	supervisord, supervisorctl string
	s6svscan                   string
	spawnloop                  string // the C baseline: posix_spawn N processes (bench/baseline)
	orphanStorm                string // the C orphan maker (bench/baseline)
	goInit                     string // the least Go init of one command (bench/baseline/goinit)
	tmp                        string
	svg                        string // where to write the spawn chart; empty: nowhere
	floor                      string // the Go floor program, once built (goFloor)

	runs            int   // fresh starts per contender for the per-run sections
	spawnNs         []int // instance counts of the spawn and stop sections
	crashes         int   // restart latency: crashes per contender
	ctlProcs        int   // control: processes the supervisors run
	ctlRuns         int   // control: CLI runs per contender
	rpcRuns         int   // control: bare requests on fresh connections per contender
	throughput      time.Duration
	clients         []int // control: concurrent protocol clients
	orphanCount     int
	footprintN      int           // footprint: processes of the big setup
	memRuns         int           // footprint: fresh starts of the memory setups
	idleProcs       int           // footprint: processes during the idle window
	settle          time.Duration // footprint: before the idle window
	window          time.Duration // footprint: the idle window
	outputBytes     int64         // output throughput: bytes the job writes
	singleRuns      int
	linkClients     []int         // live link: client counts of the latency runs; the last one also for fan-out
	linkCycles      int           // live link: stop/start cycles timed
	linkLoopers     int           // live link: crash-looping instances during fan-out
	linkBatch       int           // live link: instances started and stopped during fan-out
	healthN         int           // health: instances checked every second
	healthWindow    time.Duration // health: the window measured
	fleetAgents     int           // fleet: agents joined to the manager
	fleetStatusRuns int           // fleet: status round trips timed
	scaleNs         []int         // scale: instance counts
	scaleRuns       int           // scale: fresh starts of each contender at each N
	scaleStatusRuns int           // scale: status commands timed per run
	reloadJobs      int           // scale: job files of the reload directory
	reloadRuns      int           // scale: reloads changing one file, of each kind
	goCount         int
	goBenchtime     string

	targets []target // filled in by the sections, printed at the top

	lifecycleDone *lifecycleTimes // the spawn and stop sections' runs, once made
}

// section is one measurement of the report.
type section struct {
	name string
	run  func(*bench, context.Context) (string, error)
}

var sections = []section{
	{"spawn", (*bench).spawn},
	{"stop", (*bench).stopSection},
	{"restart", (*bench).restart},
	{"control", (*bench).control},
	{"reap", (*bench).reap},
	{"footprint", (*bench).footprint},
	{"output", (*bench).output},
	{"single", (*bench).single},
	{"link", (*bench).link},
	{"health", (*bench).health},
	{"fleet", (*bench).fleet},
	{"scale", (*bench).scale},
	{"go", (*bench).goBench},
}

var started = time.Now()

// progress reports what the benchmark is doing on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench [%5.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

// options are the flags that are not about the tools.
type options struct {
	only    string
	spawnNs string
	scaleNs string
	quick   bool
	out     string
}

func parseFlags(args []string) (*bench, *options, error) {
	b, o := &bench{}, &options{}
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.StringVar(&b.root, "root", ".", "the repository (for the Go micro-benchmarks and the default binaries)")
	fs.StringVar(&b.taskmasterd, "taskmasterd", "", "taskmasterd binary (default ROOT/bin/taskmasterd)")
	fs.StringVar(&b.taskmasterctl, "taskmasterctl", "", "taskmasterctl binary (default ROOT/bin/taskmasterctl)")
	fs.StringVar(&b.tini, "tini", "", "tini binary (default tini from PATH, else /usr/bin/docker-init)")
	fs.StringVar(&b.supervisord, "supervisord", "", "supervisord (default from PATH)")
	fs.StringVar(&b.supervisorctl, "supervisorctl", "", "supervisorctl (default from PATH)")
	fs.StringVar(&b.s6svscan, "s6-svscan", "", "s6-svscan (default from PATH)")
	fs.StringVar(&b.spawnloop, "spawnloop", "", "the C spawn baseline (default ROOT/bin/bench-spawnloop)")
	fs.StringVar(&b.orphanStorm, "orphanstorm", "", "the C orphan maker (default ROOT/bin/bench-orphanstorm)")
	fs.StringVar(&b.goInit, "goinit", "", "the least Go init of one command (default ROOT/bin/bench-goinit)")
	fs.StringVar(&b.svg, "svg", "", "write the spawn chart (SVG) to this file")
	fs.StringVar(&o.spawnNs, "n", "", "comma-separated instance counts for the spawn and stop sections (default 10,100,500,1000; -quick 10,50)")
	fs.StringVar(&o.scaleNs, "scale-n", "", "comma-separated instance counts for the scale section (default 5000,10000; -quick 50,100)")
	fs.StringVar(&o.only, "only", "", "comma-separated sections to run: "+sectionNames())
	fs.BoolVar(&o.quick, "quick", false, "few, short runs: to check the benchmark itself, not for numbers")
	fs.StringVar(&o.out, "o", "", "also write the report to this file")
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected arguments %q", fs.Args())
		fmt.Fprintln(os.Stderr, "bench:", err)
		return nil, nil, err
	}
	b.defaults(o.quick)
	for _, f := range []struct {
		name, value string
		dst         *[]int
	}{{"-n", o.spawnNs, &b.spawnNs}, {"-scale-n", o.scaleNs, &b.scaleNs}} {
		if f.value == "" {
			continue
		}
		ns, err := counts(f.value)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", f.name, err)
			return nil, nil, fmt.Errorf("bad %s", f.name)
		}
		*f.dst = ns
	}
	return b, o, nil
}

// counts parses a comma-separated list of instance counts.
func counts(list string) ([]int, error) {
	var ns []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a count of instances", f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

func run(args []string) int {
	b, o, err := parseFlags(args)
	if err != nil {
		return 2 // the flag package or parseFlags said why
	}
	if err := b.resolve(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	todo, err := pick(o.only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	if b.tmp, err = os.MkdirTemp("", "taskmaster-bench-"); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(b.tmp)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-sigs
		progress("interrupted: stopping (again to kill at once)")
		cancel()
		<-sigs
		killAll()
		os.Exit(130)
	}()
	defer killAll()

	report, failed := b.report(ctx, todo, o.quick)
	if ctx.Err() != nil {
		return 130
	}
	progress("done")
	fmt.Print(report)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	if failed {
		return 1
	}
	return 0
}

// report runs the sections and returns the markdown report, and whether a
// section failed. A failed section is reported and the others still run.
// The targets the sections checked come first, after the machine.
func (b *bench) report(ctx context.Context, todo []section, quick bool) (string, bool) {
	var body strings.Builder
	failed := false
	took := make([]time.Duration, len(todo))
	startLoad := loadAverage() // the header is written last
	for i, s := range todo {
		load := loadAverage()
		t0 := time.Now()
		text, err := s.run(b, ctx)
		if ctx.Err() != nil {
			return "", true
		}
		took[i] = time.Since(t0)
		progress("%s: took %.0f s", s.name, took[i].Seconds())
		if err != nil {
			failed = true
			progress("%s: FAILED: %v", s.name, err)
			text = fmt.Sprintf("## %s\n\n**failed**: %v\n", s.name, err)
		}
		body.WriteString("\n" + text)
		fmt.Fprintf(&body, "\n_Section %s took %.0f s. Load average (1, 5, 15 min) before: %s; after: %s._\n", s.name, took[i].Seconds(), load, loadAverage())
	}
	fmt.Fprintf(&body, "\nLoad average at the end: %s; the whole run took %.0f s.\n", loadAverage(), time.Since(started).Seconds())
	durations := b.durationTable(todo, took, quick)
	return b.header(quick, startLoad) + "\n" + b.targetTable() + body.String() + durations, failed
}

// durationTable is how long each section took, against the budget of the
// whole run: `make bench` must stay under 25 minutes, `make bench-quick`
// under 2 (issue 16). The time before the first section (building the
// binaries, installing the contenders) is not the benchmark's.
func (b *bench) durationTable(todo []section, took []time.Duration, quick bool) string {
	budget := 25 * time.Minute
	if quick {
		budget = 2 * time.Minute
	}
	var sb strings.Builder
	var sum time.Duration
	sb.WriteString("\n## Durations\n\n| section | s |\n|---|---|\n")
	for i, s := range todo {
		fmt.Fprintf(&sb, "| %s | %.0f |\n", s.name, took[i].Seconds())
		sum += took[i]
	}
	fmt.Fprintf(&sb, "| **all** | **%.0f** (budget: %.0f) |\n", sum.Seconds(), budget.Seconds())
	if len(todo) == len(sections) { // a partial run says nothing of the whole
		b.check(fmt.Sprintf("the whole run under %.0f minutes", budget.Minutes()), sum <= budget, "%.1f minutes", sum.Minutes())
	}
	return sb.String()
}

// defaults sets how much to measure: enough repetitions for a median and a
// spread. -quick measures little of everything, to check the suite itself.
func (b *bench) defaults(quick bool) {
	b.runs = 5
	b.spawnNs = []int{10, 100, 500, 1000}
	b.crashes = 200
	b.ctlProcs, b.ctlRuns, b.rpcRuns = 200, 100, 500
	b.throughput, b.clients = 3*time.Second, []int{1, 16, 64}
	b.orphanCount = 10000
	// Memory varies little from one start to the next, and each run
	// waits about 25 s for supervisord to start its 500 processes.
	b.footprintN, b.idleProcs, b.memRuns = 500, 200, 3
	b.settle, b.window = 3*time.Second, 60*time.Second
	b.outputBytes = 1 << 30
	b.singleRuns = 200
	b.linkClients, b.linkCycles, b.linkLoopers, b.linkBatch = []int{1, 100}, 100, 200, 100
	b.healthN, b.healthWindow = 200, 30*time.Second
	b.fleetAgents, b.fleetStatusRuns = 1000, 50
	b.scaleNs, b.scaleRuns, b.scaleStatusRuns = []int{5000, 10000}, 3, 5
	b.reloadJobs, b.reloadRuns = 1000, 5
	// Half a second is thousands of iterations of every micro-benchmark
	// but the spawn helper's (about 200 of 2 to 3 ms each).
	b.goCount, b.goBenchtime = 3, "500ms"
	if quick {
		b.runs = 1
		b.spawnNs = []int{10, 50}
		b.crashes = 3
		b.ctlProcs, b.ctlRuns, b.rpcRuns = 20, 5, 20
		b.throughput, b.clients = 300*time.Millisecond, []int{1, 16}
		b.orphanCount = 1000
		b.footprintN, b.idleProcs, b.memRuns = 100, 20, 1
		b.settle, b.window = 500*time.Millisecond, time.Second
		b.outputBytes = 64 << 20
		b.singleRuns = 20
		b.linkClients, b.linkCycles, b.linkLoopers, b.linkBatch = []int{1, 10}, 10, 20, 20
		b.healthN, b.healthWindow = 5, 2*time.Second
		b.fleetAgents, b.fleetStatusRuns = 50, 5
		b.scaleNs, b.scaleRuns, b.scaleStatusRuns = []int{50, 100}, 1, 2
		b.reloadJobs, b.reloadRuns = 50, 1
		b.goCount, b.goBenchtime = 1, "100x"
	}
}

// resolve finds the tools and makes their paths absolute: the supervisors
// exec them from another working directory and PID namespace.
func (b *bench) resolve() error {
	if os.Geteuid() != 0 {
		return errors.New("needs root (every supervisor runs as PID 1 of its own PID namespace)")
	}
	root, err := filepath.Abs(b.root)
	if err != nil {
		return err
	}
	b.root = root
	if b.taskmasterd == "" {
		b.taskmasterd = filepath.Join(root, "bin", "taskmasterd")
	}
	if b.taskmasterctl == "" {
		b.taskmasterctl = filepath.Join(root, "bin", "taskmasterctl")
	}
	if b.tini == "" {
		b.tini = "tini"
		if _, err := exec.LookPath(b.tini); err != nil {
			b.tini = "/usr/bin/docker-init" // Docker's docker-init is tini
		}
	}
	if b.supervisord == "" {
		b.supervisord = "supervisord"
	}
	if b.supervisorctl == "" {
		b.supervisorctl = "supervisorctl"
	}
	if b.s6svscan == "" {
		b.s6svscan = "s6-svscan"
	}
	if b.spawnloop == "" {
		b.spawnloop = filepath.Join(root, "bin", "bench-spawnloop")
	}
	if b.orphanStorm == "" {
		b.orphanStorm = filepath.Join(root, "bin", "bench-orphanstorm")
	}
	if b.goInit == "" {
		b.goInit = filepath.Join(root, "bin", "bench-goinit")
	}
	for _, p := range []*string{&b.taskmasterd, &b.taskmasterctl, &b.tini, &b.supervisord, &b.supervisorctl, &b.s6svscan, &b.spawnloop, &b.orphanStorm, &b.goInit} {
		path, err := exec.LookPath(*p)
		if err != nil {
			return fmt.Errorf("%s: %w (make bench builds taskmaster and the baselines and installs supervisor, tini and s6)", *p, err)
		}
		if path, err = filepath.Abs(path); err != nil {
			return err
		}
		*p = path
	}
	return nil
}

func sectionNames() string {
	names := make([]string, len(sections))
	for i, s := range sections {
		names[i] = s.name
	}
	return strings.Join(names, ",")
}

// pick returns the sections named in only (all if empty), in report order.
func pick(only string) ([]section, error) {
	if only == "" {
		return sections, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(only, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var out []section
	for _, s := range sections {
		if want[s.name] {
			out = append(out, s)
			delete(want, s.name)
		}
	}
	for n := range want {
		return nil, fmt.Errorf("-only: no section %q (have %s)", n, sectionNames())
	}
	return out, nil
}
