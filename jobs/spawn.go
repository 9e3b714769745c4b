package jobs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/output"
	"github.com/taskmaster/taskmaster/reaper"
	"github.com/taskmaster/taskmaster/reexec"
)

// Forker forks and execs a program and reports its exit; *reaper.Reaper is
// the one taskmasterd uses, so that no exit escapes the single reaper.
type Forker interface {
	ForkExec(argv0 string, argv []string, attr *syscall.ProcAttr) (int, <-chan reaper.Exit, error)
}

// Proc is what a Starter needs to start the process of one instance.
type Proc struct {
	Name        string        // NAME:N
	Index       int           // N
	Spec        *jobfile.Spec // the job's settings
	Ring        *output.Ring  // keeps the instance's recent output; may be nil
	Interactive bool          // inherit taskmasterd's stdin, stdout and stderr (single-command mode)
}

// StarterConfig is what NewStarter needs.
type StarterConfig struct {
	Forker Forker
	Env    []string        // the environment job settings are merged over
	Stdout *output.Console // taskmasterd's stdout, for console output
	Stderr *output.Console // taskmasterd's stderr
	Files  *output.FileSet // log files, shared by path
	Logger *slog.Logger
}

// NewStarter returns the Starter that starts real processes.
func NewStarter(cfg StarterConfig) Starter {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &starter{cfg: cfg}
}

type starter struct{ cfg StarterConfig }

// Start starts p's program in a process group of its own (so that stopping
// reaches its children too), with the job's environment, working
// directory, user, umask and output.
func (st *starter) Start(p *Proc) (int, <-chan reaper.Exit, error) {
	spec := p.Spec
	env := buildEnv(st.cfg.Env, p)
	path, err := lookPath(spec.Cmd[0], envPath(env), spec.WorkingDir)
	if err != nil {
		return 0, nil, err
	}
	if err := checkDir(spec.WorkingDir); err != nil {
		return 0, nil, err
	}
	stdio, err := st.openStdio(p)
	if err != nil {
		return 0, nil, err
	}
	defer stdio.closeChildEnds()
	attr := &syscall.ProcAttr{
		Dir:   spec.WorkingDir,
		Env:   env,
		Files: stdio.fds(),
		Sys:   sysProcAttr(p),
	}
	argv0, argv := path, spec.Cmd
	if spec.Umask >= 0 {
		argv0, argv = reexec.Wrap(spec.Umask, path, argv)
	}
	pid, exited, err := st.cfg.Forker.ForkExec(argv0, argv, attr)
	if err != nil {
		stdio.abort()
		return 0, nil, fmt.Errorf("start %s: %w", path, err)
	}
	stdio.pump()
	return pid, exited, nil
}

func sysProcAttr(p *Proc) *syscall.SysProcAttr {
	sys := &syscall.SysProcAttr{Setpgid: true}
	if u := p.Spec.User; u != nil {
		sys.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: u.Groups}
	}
	if p.Interactive && isTerminal(0) {
		// Like a shell's job control: the command's group owns the
		// terminal, so ^C reaches it.
		sys.Foreground, sys.Ctty = true, 0
	}
	return sys
}

func isTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// buildEnv merges the job's env over base and adds what taskmaster tells
// every process: its job and instance, and for another user its identity.
func buildEnv(base []string, p *Proc) []string {
	vars := make(map[string]string, len(base)+len(p.Spec.Env)+5)
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, kv := range base {
		if k, v, ok := strings.Cut(kv, "="); ok {
			set(k, v)
		}
	}
	if u := p.Spec.User; u != nil {
		for k, v := range map[string]string{"HOME": u.Home, "USER": u.Name, "LOGNAME": u.Name} {
			if v != "" {
				set(k, v)
			}
		}
	}
	for k, v := range p.Spec.Env {
		set(k, v)
	}
	set("TASKMASTER_JOB", p.Spec.Name)
	set("TASKMASTER_INSTANCE", p.Name)
	env := make([]string, 0, len(order))
	for _, k := range order {
		env = append(env, k+"="+vars[k])
	}
	return env
}

func envPath(env []string) string {
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	return path
}

// lookPath finds the program as execve would run it for the job: a name
// with a slash is a path (relative to the working directory), a bare name
// is looked up in the job's PATH.
func lookPath(name, path, dir string) (string, error) {
	if strings.Contains(name, "/") {
		full := name
		if !filepath.IsAbs(full) && dir != "" {
			full = filepath.Join(dir, full)
		}
		return full, checkExecutable(full, name)
	}
	for _, d := range filepath.SplitList(path) {
		if d == "" {
			d = "."
		}
		full := filepath.Join(d, name)
		if !filepath.IsAbs(full) && dir != "" {
			full = filepath.Join(dir, full)
		}
		if err := checkExecutable(full, name); err == nil {
			return full, nil
		} else if !errors.Is(err, ErrProgramNotFound) {
			return "", err
		}
	}
	return "", fmt.Errorf("%w: %q is not in PATH %q", ErrProgramNotFound, name, path)
}

func checkExecutable(full, name string) error {
	fi, err := os.Stat(full)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%w: %s", ErrProgramNotFound, full)
	case err != nil:
		return fmt.Errorf("program %q: %w", name, err)
	case fi.IsDir():
		return fmt.Errorf("program %q: %s is a directory", name, full)
	case unix.Access(full, unix.X_OK) != nil:
		return fmt.Errorf("program %q: %s is not executable", name, full)
	}
	return nil
}

func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("workingdir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("workingdir: %s is not a directory", dir)
	}
	return nil
}

// stdio is the standard input, output and error of a process being started:
// what the child gets, and what taskmasterd reads from.
type stdio struct {
	child  [3]*os.File // closed in the parent once the child has them
	shared [3]bool     // child[i] is taskmasterd's own (not closed)
	pumps  []func()    // started once the child runs
	undo   []func()    // release what pumps would have released
}

func (st *starter) openStdio(p *Proc) (*stdio, error) {
	s := &stdio{}
	if p.Interactive {
		s.child = [3]*os.File{os.Stdin, os.Stdout, os.Stderr}
		s.shared = [3]bool{true, true, true}
		return s, nil
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return nil, err
	}
	s.child[0] = null
	streams := []struct {
		out     jobfile.Output
		console *output.Console
		name    string
	}{{p.Spec.Stdout, st.cfg.Stdout, "stdout"}, {p.Spec.Stderr, st.cfg.Stderr, "stderr"}}
	for i, stream := range streams {
		if err := st.openStream(s, i+1, stream.out, stream.console, stream.name, p); err != nil {
			s.abort()
			s.closeChildEnds()
			return nil, err
		}
	}
	return s, nil
}

func (st *starter) openStream(s *stdio, fd int, out jobfile.Output, console *output.Console, name string, p *Proc) error {
	if out.Kind == jobfile.OutputDiscard {
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		s.child[fd] = null
		return err
	}
	var dst output.Destination
	var release func()
	if out.Kind == jobfile.OutputFile {
		f, err := st.cfg.Files.OpenAs(out.Path, logFileMode(p.Spec), logFileOwner(p.Spec))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		dst, release = f, func() { _ = f.Close() }
	} else {
		dst, release = console.Lines(p.Name+" | "), func() {}
	}
	r, w, err := os.Pipe()
	if err != nil {
		release()
		return err
	}
	s.child[fd] = w
	s.pumps = append(s.pumps, func() {
		_ = output.Pump(r, dst, p.Ring)
		r.Close()
		release()
	})
	s.undo = append(s.undo, func() { r.Close(); release() })
	return nil
}

// logFileMode is the mode of a new log file: 0666 less the job's umask, as
// if the job had created it (taskmasterd's own umask applies too).
func logFileMode(spec *jobfile.Spec) os.FileMode {
	if spec.Umask < 0 {
		return 0o666
	}
	return 0o666 &^ os.FileMode(spec.Umask)
}

// logFileOwner is whose permissions a job's log files are opened with: the
// job's user, if it runs as one.
func logFileOwner(spec *jobfile.Spec) *output.Owner {
	if spec.User == nil {
		return nil
	}
	u := spec.User
	return &output.Owner{UID: u.UID, GID: u.GID, Groups: u.Groups}
}

func (s *stdio) fds() []uintptr {
	fds := make([]uintptr, len(s.child))
	for i, f := range s.child {
		fds[i] = f.Fd()
	}
	return fds
}

func (s *stdio) pump() {
	for _, p := range s.pumps {
		go p()
	}
}

func (s *stdio) abort() {
	for _, u := range s.undo {
		u()
	}
	s.undo = nil
}

func (s *stdio) closeChildEnds() {
	for i, f := range s.child {
		if f != nil && !s.shared[i] {
			f.Close()
		}
	}
}
