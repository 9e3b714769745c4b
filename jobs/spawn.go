package jobs

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/jobs/attach"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/output"
	"github.com/taskmaster/taskmaster/reaper"
	"github.com/taskmaster/taskmaster/reexec"
)

// Forker forks and execs a program and reports its exit to onExit;
// *reaper.Reaper is the one taskmasterd uses, so that no exit escapes the
// single reaper.
type Forker interface {
	ForkExec(argv0 string, argv []string, attr *syscall.ProcAttr, onExit func(reaper.Exit)) (int, error)
}

// Proc is what a Starter needs to start the process of one instance.
type Proc struct {
	Name        string        // NAME:N
	Index       int           // N
	Spec        *jobfile.Spec // the job's settings
	Ring        *output.Ring  // keeps the instance's recent output; may be nil
	Point       *attach.Point // where clients attach to the instance; may be nil
	Interactive bool          // inherit taskmasterd's stdin, stdout and stderr (single-command mode)
	Env         []string      // variables set over the job's environment (NOTIFY_SOCKET=...)
	Files       map[int]int   // descriptors the process gets beyond 0, 1 and 2: its number to ours
}

// StarterConfig is what NewStarter needs.
type StarterConfig struct {
	Forker Forker
	Env    []string        // the environment job settings are merged over
	Stdout *output.Console // taskmasterd's stdout, for console output
	Stderr *output.Console // taskmasterd's stderr
	Files  *output.FileSet // log files, shared by path
	Poller *output.Poller  // pumps the output pipes; nil: the starter makes its own on the first start
	Logger *slog.Logger
}

// NewStarter returns the Starter that starts real processes.
func NewStarter(cfg StarterConfig) Starter {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &starter{cfg: cfg, poller: cfg.Poller}
}

type starter struct {
	cfg StarterConfig

	mu      sync.Mutex
	null    *os.File       // /dev/null, for every stdin and discarded output
	poller  *output.Poller // pumps every output pipe
	envSpec *jobfile.Spec  // the spec env was built for: instances start one after the other
	env     []string       // jobEnv of envSpec
	envPATH string         // its PATH
}

// Start starts p's program in a process group of its own (so that stopping
// reaches its children too), with the job's environment, working
// directory, user, umask and output. A job with "tty": true gets a
// terminal of its own, and a session of its own (whose process group is
// the session's: stopping is the same).
func (st *starter) Start(p *Proc, onExit func(reaper.Exit)) (int, error) {
	spec := p.Spec
	env, envPATH := st.environment(p)
	path, err := lookPath(spec.Cmd[0], envPATH, spec.WorkingDir)
	if err != nil {
		return 0, err
	}
	if err := checkDir(spec.WorkingDir); err != nil {
		return 0, err
	}
	stdio, err := st.openStdio(p)
	if err != nil {
		return 0, err
	}
	defer stdio.closeChildEnds()
	attr := &syscall.ProcAttr{
		Dir:   spec.WorkingDir,
		Env:   setEnv(env, p.Env...),
		Files: withFiles(stdio.fds(), p.Files),
		Sys:   sysProcAttr(p),
	}
	argv0, argv := path, spec.Cmd
	if spec.Umask >= 0 {
		argv0, argv = reexec.Wrap(spec.Umask, path, argv)
	}
	pid, err := st.cfg.Forker.ForkExec(argv0, argv, attr, stdio.exited(onExit))
	if err != nil {
		stdio.abort()
		return 0, fmt.Errorf("start %s: %w", path, err)
	}
	stdio.begin()
	stdio.pump()
	return pid, nil
}

func sysProcAttr(p *Proc) *syscall.SysProcAttr {
	sys := &syscall.SysProcAttr{Setpgid: true}
	if p.Spec.TTY && !p.Interactive {
		// The leader of a session of its own, and so of a process group
		// of its own, with its terminal (its fd 0 in the child) as the
		// controlling terminal. Never Setpgid beside Setsid: the
		// setpgid after the setsid would fail, and the fork with it.
		sys = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}
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

// environment returns p's environment and the PATH in it. The part every
// instance of a job shares is built once per job spec, not once per start:
// it is most of what a start allocates.
func (st *starter) environment(p *Proc) (env []string, path string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.envSpec != p.Spec {
		st.envSpec, st.env = p.Spec, jobEnv(st.cfg.Env, p.Spec)
		st.envPATH = envPath(st.env)
	}
	return instanceEnv(st.env, p.Name), st.envPATH
}

// instanceEnv returns a job's environment with the instance's name added;
// job itself is left as it is.
func instanceEnv(job []string, name string) []string {
	return append(job[:len(job):len(job)], "TASKMASTER_INSTANCE="+name)
}

// jobEnv merges the job's env over base and adds what taskmaster tells
// every process of the job: its name, and for another user its identity.
// The instance's name (TASKMASTER_INSTANCE) is for instanceEnv to add.
func jobEnv(base []string, spec *jobfile.Spec) []string {
	vars := make(map[string]string, len(base)+len(spec.Env)+5)
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
	if u := spec.User; u != nil {
		for k, v := range map[string]string{"HOME": u.Home, "USER": u.Name, "LOGNAME": u.Name} {
			if v != "" {
				set(k, v)
			}
		}
	}
	for k, v := range spec.Env {
		set(k, v)
	}
	if _, ok := vars["TERM"]; spec.TTY && !ok {
		set("TERM", "xterm") // as docker run -t does: programs on a terminal want to know its kind
	}
	set("TASKMASTER_JOB", spec.Name)
	env := make([]string, 0, len(order))
	for _, k := range order {
		if k != "TASKMASTER_INSTANCE" {
			env = append(env, k+"="+vars[k])
		}
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
