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
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == nsinitArg {
		nsinit(os.Args[2:])
		return
	}
	os.Exit(run(os.Args[1:]))
}

// bench holds the tools measured and how much to measure.
type bench struct {
	root                       string // the repository
	taskmasterd, taskmasterctl string
	tini                       string
	supervisord, supervisorctl string
	tmp                        string

	idleRuns       int
	settle, window time.Duration
	orphanRuns     int
	orphanCount    int
	startRuns      int
	singleRuns     int
	ctlRuns        int
	rpcRuns        int
	goCount        int
}

// section is one measurement of the report.
type section struct {
	name string
	run  func(*bench, context.Context) (string, error)
}

var sections = []section{
	{"idle", (*bench).idle}, // sections 1 and 2: idle wakeups and memory
	{"orphans", (*bench).orphans},
	{"start", (*bench).startup},
	{"single", (*bench).single},
	{"control", (*bench).control},
	{"go", (*bench).goBench},
}

var started = time.Now()

// progress reports what the benchmark is doing on stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench [%5.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

// options are the flags that are not about the tools.
type options struct {
	only  string
	quick bool
	out   string
}

func parseFlags(args []string) (*bench, *options, error) {
	b, o := &bench{}, &options{}
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.StringVar(&b.root, "root", ".", "the repository (for the Go micro-benchmarks and the default binaries)")
	fs.StringVar(&b.taskmasterd, "taskmasterd", "", "taskmasterd binary (default ROOT/bin/taskmasterd)")
	fs.StringVar(&b.taskmasterctl, "taskmasterctl", "", "taskmasterctl binary (default ROOT/bin/taskmasterctl)")
	fs.StringVar(&b.tini, "tini", "", "tini binary (default /usr/bin/docker-init, else tini in PATH)")
	fs.StringVar(&b.supervisord, "supervisord", "", "supervisord (default from PATH)")
	fs.StringVar(&b.supervisorctl, "supervisorctl", "", "supervisorctl (default from PATH)")
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
	return b, o, nil
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
func (b *bench) report(ctx context.Context, todo []section, quick bool) (string, bool) {
	var report strings.Builder
	report.WriteString(b.header(quick))
	failed := false
	for _, s := range todo {
		load := loadAverage()
		text, err := s.run(b, ctx)
		if ctx.Err() != nil {
			return "", true
		}
		if err != nil {
			failed = true
			progress("%s: FAILED: %v", s.name, err)
			text = fmt.Sprintf("## %s\n\n**failed**: %v\n", s.name, err)
		}
		report.WriteString("\n" + text)
		fmt.Fprintf(&report, "\n_Load average (1, 5, 15 min) before: %s; after: %s._\n", load, loadAverage())
	}
	fmt.Fprintf(&report, "\nLoad average at the end: %s; the whole run took %.0f s.\n", loadAverage(), time.Since(started).Seconds())
	return report.String(), failed
}

// defaults sets how much to measure: enough repetitions for a median and a
// spread, within about three minutes in all.
func (b *bench) defaults(quick bool) {
	b.idleRuns, b.settle, b.window = 3, 3*time.Second, 10*time.Second
	b.orphanRuns, b.orphanCount = 5, 2000
	b.startRuns = 5
	b.singleRuns = 200
	b.ctlRuns, b.rpcRuns = 100, 500
	b.goCount = 3
	if quick {
		b.idleRuns, b.settle, b.window = 1, time.Second, 3*time.Second
		b.orphanRuns, b.orphanCount = 1, 500
		b.startRuns = 1
		b.singleRuns = 20
		b.ctlRuns, b.rpcRuns = 5, 20
		b.goCount = 1
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
		b.tini = "/usr/bin/docker-init"
		if _, err := os.Stat(b.tini); err != nil {
			b.tini = "tini"
		}
	}
	if b.supervisord == "" {
		b.supervisord = "supervisord"
	}
	if b.supervisorctl == "" {
		b.supervisorctl = "supervisorctl"
	}
	for _, p := range []*string{&b.taskmasterd, &b.taskmasterctl, &b.tini, &b.supervisord, &b.supervisorctl} {
		path, err := exec.LookPath(*p)
		if err != nil {
			return fmt.Errorf("%s: %w (make bench builds taskmaster and installs supervisor)", *p, err)
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
