package jobs

import (
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/reaper"
)

// fakeCheck is an exec check started by a fakeStarter: it runs until the
// test ends it (or a signal does).
type fakeCheck struct {
	pid  int
	name string // the instance it checks
	cmd  []string
	c    *CheckProc
}

// keep records the Proc of a start, with copies of the descriptors given
// to the child (the supervisor closes its own once Start returns), as the
// child would hold them. The caller holds f.mu.
func (f *fakeStarter) keep(p *Proc) {
	if f.last == nil {
		f.last = map[string]*Proc{}
	}
	cp := *p
	if len(p.Files) > 0 {
		cp.Files = map[int]int{}
		for n, fd := range p.Files {
			dup, err := unix.Dup(fd)
			if err != nil {
				panic(err)
			}
			cp.Files[n] = dup
		}
	}
	if old := f.last[p.Name]; old != nil {
		for _, fd := range old.Files {
			_ = unix.Close(fd)
		}
	}
	f.last[p.Name] = &cp
}

// lastProc returns the Proc instance name was last started with.
func (f *fakeStarter) lastProc(name string) *Proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last[name]
}

// StartCheck starts a fake exec check. Its end (by the test, or by a
// signal) also ends its output.
func (f *fakeStarter) StartCheck(c *CheckProc, onExit func(reaper.Exit)) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.fail["check:"+c.Name]; err != nil {
		return 0, err
	}
	f.nextPid++
	pid := f.nextPid
	f.procs[pid] = func(e reaper.Exit) { c.OutDone(); onExit(e) }
	f.checks = append(f.checks, &fakeCheck{pid: pid, name: c.Name, cmd: c.Cmd, c: c})
	return pid, nil
}

// checkCount returns how many exec checks have started.
func (f *fakeStarter) checkCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.checks)
}

// check returns the n-th exec check started (from 1).
func (f *fakeStarter) check(n int) *fakeCheck {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checks[n-1]
}

// awaitCheck waits until n exec checks have started, and returns the n-th.
func (h *harness) awaitCheck(n int) *fakeCheck {
	h.t.Helper()
	require.Eventually(h.t, func() bool { return h.starter.checkCount() >= n }, 5*time.Second, time.Millisecond,
		"exec check %d never started (%d did)", n, h.starter.checkCount())
	// The check starts during an event whose end re-arms the timers: wait
	// for it, so that the test may move the clock on.
	require.NoError(h.t, h.s.call(func() {}))
	return h.starter.check(n)
}

// finishCheck makes the n-th exec check print out and exit with code.
func (h *harness) finishCheck(n, code int, out string) {
	h.t.Helper()
	c := h.awaitCheck(n)
	if out != "" {
		c.c.Out.WriteLines([]byte(out + "\n"))
	}
	h.starter.exit(c.pid, exitStatus(code))
	h.drained()
}

// drained waits until Run has handled what the inbox held: the end of a
// check, and the timers it re-armed.
func (h *harness) drained() {
	h.t.Helper()
	require.Eventually(h.t, func() bool {
		n := -1
		require.NoError(h.t, h.s.call(func() {
			n = h.s.inbox.len()
		}))
		return n == 0
	}, 5*time.Second, time.Millisecond, "the inbox never drained")
}

// process returns the status of instance name ("web:0").
func (h *harness) process(name string) ProcessStatus {
	h.t.Helper()
	job, _, _ := strings.Cut(name, ":")
	for _, p := range h.status(job).Processes {
		if p.Name == name {
			return p
		}
	}
	h.t.Fatalf("no instance %s", name)
	return ProcessStatus{}
}

// awaitProcess waits until cond holds for instance name, and returns its
// status then.
func (h *harness) awaitProcess(name string, what string, cond func(ProcessStatus) bool) ProcessStatus {
	h.t.Helper()
	var p ProcessStatus
	require.Eventually(h.t, func() bool {
		p = h.process(name)
		return cond(p)
	}, 5*time.Second, time.Millisecond, "%s: %s", name, what)
	return p
}

// sendNotify sends one datagram to the NOTIFY_SOCKET instance name was
// last started with, as sd_notify does.
func (h *harness) sendNotify(name, msg string) {
	h.t.Helper()
	p := h.starter.lastProc(name)
	require.NotNil(h.t, p, "%s never started", name)
	path := ""
	for _, kv := range p.Env {
		if v, ok := strings.CutPrefix(kv, "NOTIFY_SOCKET="); ok {
			path = v
		}
	}
	require.NotEmpty(h.t, path, "%s got no NOTIFY_SOCKET: %q", name, p.Env)
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(h.t, err)
	defer c.Close()
	_, err = c.Write([]byte(msg))
	require.NoError(h.t, err)
}

// signalsTo returns the signals sent to pid or its group, in order.
func (f *fakeStarter) signalsTo(pid int) []syscall.Signal {
	var out []syscall.Signal
	for _, s := range f.sentSignals() {
		if s.pgid == pid && s.sig != 0 {
			out = append(out, s.sig)
		}
	}
	return out
}
