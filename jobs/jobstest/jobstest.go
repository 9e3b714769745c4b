// Package jobstest runs a jobs.Supervisor on made-up processes, for the
// tests of the transports built over it (the live link, the fleet): they
// need real job state and real control operations, not real processes.
package jobstest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/reaper"
)

// Starter runs no process: pids are made up, any signal ends them, and
// each start writes a line of output to the instance's ring.
type Starter struct {
	mu    sync.Mutex
	pid   int
	procs map[int]func(reaper.Exit)
}

// Start implements jobs.Starter.
func (f *Starter) Start(p *jobs.Proc, onExit func(reaper.Exit)) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pid++
	if f.procs == nil {
		f.procs = map[int]func(reaper.Exit){}
	}
	f.procs[f.pid] = onExit
	if p.Ring != nil {
		fmt.Fprintf(p.Ring, "hello from %s\n", p.Name)
	}
	return f.pid, nil
}

// Kill is the supervisor's kill(2): signal 0 probes, any other signal ends
// the made-up process (or its group: a negative pid) at once.
func (f *Starter) Kill(pid int, sig syscall.Signal) error {
	pid = max(pid, -pid)
	f.mu.Lock()
	onExit, ok := f.procs[pid]
	if ok && sig != 0 {
		delete(f.procs, pid)
	}
	f.mu.Unlock()
	if !ok {
		return syscall.ESRCH
	}
	if sig != 0 {
		onExit(reaper.Exit{Pid: pid, Status: syscall.WaitStatus(sig)})
	}
	return nil
}

// Supervisor writes jobFiles (name → body of NAME.tm.json) to a fresh
// directory, runs a supervisor on it with a Starter until the test ends,
// and returns once the jobs are loaded and settled.
func Supervisor(t *testing.T, jobFiles map[string]string) (dir string, sup *jobs.Supervisor) {
	t.Helper()
	dir = t.TempDir()
	for name, body := range jobFiles {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name+".tm.json"), []byte(body), 0o644))
	}
	f := &Starter{}
	sup = jobs.New(jobs.Config{Dir: dir, Starter: f, Kill: f.Kill})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sup.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	require.NoError(t, sup.Reload(context.Background(), ""))
	require.NoError(t, sup.Settled(context.Background(), ""))
	return dir, sup
}
