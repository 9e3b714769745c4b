package jobs

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/reaper"
	"github.com/taskmaster/taskmaster/reexec"
)

// StartCheck starts the command of an exec check the way the instance's
// process is started (environment, working directory, user, umask), in a
// process group of its own so that a timeout kills all of it, through the
// Forker (the reaper): its exit is reaped like any other. Its stdin is
// /dev/null; its stdout and stderr share one pipe, pumped by the Poller.
func (st *starter) StartCheck(c *CheckProc, onExit func(reaper.Exit)) (int, error) {
	spec := c.Spec
	env, envPATH := st.environment(&c.Proc)
	path, err := lookPath(c.Cmd[0], envPATH, spec.WorkingDir)
	if err != nil {
		return 0, err
	}
	if err := checkDir(spec.WorkingDir); err != nil {
		return 0, err
	}
	null, poller, err := st.shared()
	if err != nil {
		return 0, err
	}
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		return 0, os.NewSyscallError("pipe2", err)
	}
	proc := c.Proc
	proc.Interactive = false
	attr := &syscall.ProcAttr{
		Dir:   spec.WorkingDir,
		Env:   env,
		Files: []uintptr{uintptr(null), uintptr(pipe[1]), uintptr(pipe[1])},
		Sys:   sysProcAttr(&proc),
	}
	argv0, argv := path, c.Cmd
	if spec.Umask >= 0 {
		argv0, argv = reexec.Wrap(spec.Umask, path, argv)
	}
	pid, err := st.cfg.Forker.ForkExec(argv0, argv, attr, onExit)
	_ = unix.Close(pipe[1])
	if err != nil {
		_ = unix.Close(pipe[0])
		return 0, fmt.Errorf("start %s: %w", path, err)
	}
	poller.Add(pipe[0], c.Out, nil, c.OutDone)
	return pid, nil
}

// withFiles returns the descriptors of a child, fds (its 0, 1 and 2)
// followed by files: entry N is the child's descriptor N, and a gap is
// closed in the child.
func withFiles(fds []uintptr, files map[int]int) []uintptr {
	for n, fd := range files {
		for len(fds) <= n {
			fds = append(fds, ^uintptr(0)) // -1: closed in the child
		}
		fds[n] = uintptr(fd)
	}
	return fds
}

// setEnv returns env with the variables of kvs ("NAME=value") set: an
// entry of the same name is dropped, since programs take the first.
func setEnv(env []string, kvs ...string) []string {
	if len(kvs) == 0 {
		return env
	}
	out := make([]string, 0, len(env)+len(kvs))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !envHas(kvs, name) {
			out = append(out, kv)
		}
	}
	return append(out, kvs...)
}

func envHas(kvs []string, name string) bool {
	for _, kv := range kvs {
		if n, _, _ := strings.Cut(kv, "="); n == name {
			return true
		}
	}
	return false
}
