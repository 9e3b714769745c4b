package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The reaping section releases a storm of orphans at once and measures how
// long the init takes to reap them all. The one thing measured that the
// init cannot tell is when its list of children is empty: /proc shows it,
// but reading a list of 10,000 children costs about 10 ms (the kernel walks
// the list from its start for every page it returns), CPU taken from the
// init on a small machine. So the benchmark reads the list rarely while it
// is long, and often once it is short (see awaitReaped).

// reapInit is an init measured: the command line that makes it PID 1 and
// runs orphanstorm with ready as its ready file.
type reapInit struct {
	name string
	argv func(ready string) []string
}

// reapSample is one storm under one init.
type reapSample struct {
	total      time.Duration // from the release until no orphan is left
	lag        time.Duration // from the last orphan's exit until no orphan is left
	cpu        time.Duration // CPU time the init used meanwhile, all threads
	switches   uint64        // the init's context switches meanwhile, all threads
	maxZombies int           // most exited but unreaped orphans at one look
}

const (
	// reapSetupTimeout bounds the fork of the orphans and their reaping:
	// forking 10,000 processes takes seconds on a small machine.
	reapSetupTimeout = 60 * time.Second
	// reapPollPerChild is how long the benchmark waits, per child it saw,
	// before it reads the init's children again: about 5 times what
	// reading one costs, so that polling takes at most a fifth of a CPU.
	reapPollPerChild = 5 * time.Microsecond
	// reapNearEnd is how many threads above its floor the machine's
	// thread count must fall for the end to be near: orphans not yet
	// reaped, or the machine's own comings and goings.
	reapNearEnd = 50
	// reapPollPause is the pause between cheap looks at the machine's
	// thread count.
	reapPollPause = 100 * time.Microsecond
)

// reap measures, b.runs times for each init (taskmasterd and tini,
// alternating), the time the init takes to reap b.orphanCount orphans that
// exit at once.
func (b *bench) reap(ctx context.Context) (string, error) {
	storm := func(ready string) []string { return []string{b.orphanStorm, strconv.Itoa(b.orphanCount), ready} }
	inits := []reapInit{
		{"taskmasterd", func(ready string) []string { return append([]string{b.taskmasterd, "--"}, storm(ready)...) }},
		{"tini", func(ready string) []string { return append([]string{b.tini, "--"}, storm(ready)...) }},
	}
	samples := make([][]reapSample, len(inits))
	for run := range b.runs {
		for k := range inits {
			i := (run + k) % len(inits) // alternate who goes first
			progress("reaping: %d orphans, run %d of %d, %s", b.orphanCount, run+1, b.runs, inits[i].name)
			s, err := b.reapRun(ctx, inits[i], run)
			if err != nil {
				return "", err
			}
			samples[i] = append(samples[i], s)
		}
	}
	return b.reapReport(inits, samples), nil
}

// reapRun starts one init with its storm, waits for the orphans to be
// ready, releases them and measures their reaping.
func (b *bench) reapRun(ctx context.Context, in reapInit, run int) (reapSample, error) {
	var s reapSample
	n := b.orphanCount
	p, storm, orphans, err := b.startStorm(ctx, in, run)
	if err != nil {
		return s, err
	}
	defer p.stop()
	exits, err := watchExits(orphans)
	if err != nil {
		return s, err
	}
	defer exits.close()
	u0, err := reapUsageOf(p.pid)
	if err != nil {
		return s, err
	}
	threads0, err := machineThreads()
	if err != nil {
		return s, err
	}
	t0 := monotonic()
	if err := syscall.Kill(storm, syscall.SIGUSR1); err != nil {
		return s, fmt.Errorf("%s: release the orphans: %w", in.name, err)
	}
	looks, err := awaitReaped(ctx, p, storm, threads0-n, time.Now().Add(reapSetupTimeout))
	if err != nil {
		return s, err
	}
	u1, err := reapUsageOf(p.pid)
	if err != nil {
		return s, err
	}
	if s, err = exits.sample(in.name, n, t0, looks); err != nil {
		return s, err
	}
	s.cpu, s.switches = u1.cpu-u0.cpu, u1.switches-u0.switches
	return s, nil
}

// reapUsage is what a process has used so far, all its threads together.
type reapUsage struct {
	cpu      time.Duration
	switches uint64 // context switches, voluntary or not
}

// reapUsageOf returns the usage of pid.
func reapUsageOf(pid int) (reapUsage, error) {
	cpu, err := cpuTime(pid)
	if err != nil {
		return reapUsage{}, err
	}
	switches, err := ctxSwitches(pid)
	return reapUsage{cpu: cpu, switches: switches}, err
}

// startStorm starts the init in with its storm of b.orphanCount orphans
// and waits until they are ready. It returns the init, orphanstorm's pid
// and the orphans'.
func (b *bench) startStorm(ctx context.Context, in reapInit, run int) (p *proc, storm int, orphans []int, err error) {
	ready := filepath.Join(b.tmp, fmt.Sprintf("reap-%s-%d.ready", in.name, run))
	p, err = startInNamespace(in.name, in.argv(ready), filepath.Join(b.tmp, fmt.Sprintf("reap-%s-%d.log", in.name, run)))
	if err != nil {
		return nil, 0, nil, err
	}
	if err = awaitReadyFile(ctx, p, ready, time.Now().Add(reapSetupTimeout)); err == nil {
		storm, orphans, err = findStorm(p, b.orphanCount, taskComm(b.orphanStorm))
	}
	if err != nil {
		p.stop()
		return nil, 0, nil, err
	}
	return p, storm, orphans, nil
}

// awaitReadyFile waits until path exists, while p runs, until deadline.
func awaitReadyFile(ctx context.Context, p *proc, path string, deadline time.Time) error {
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		if err := p.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no %s in time%s", p.name, path, p.logTail())
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// findStorm checks that the init p has n+1 children named name,
// orphanstorm and its orphans, and returns orphanstorm's pid and the
// orphans'. orphanstorm is the one started first: the lowest pid in the
// namespace (the orphans were forked after it, and the namespace's pids do
// not wrap around at these counts).
func findStorm(p *proc, n int, name string) (storm int, orphans []int, err error) {
	kids := children(p.pid)
	if len(kids) != n+1 {
		return 0, nil, fmt.Errorf("%s: %d children once the orphans were ready, want %d (orphanstorm and its orphans)%s", p.name, len(kids), n+1, p.logTail())
	}
	lowest := 0
	for _, k := range kids {
		kname, nsPid, err := nameAndNsPid(k)
		if err != nil {
			return 0, nil, fmt.Errorf("%s: child %d: %w", p.name, k, err)
		}
		if kname != name {
			return 0, nil, fmt.Errorf("%s: child %d is %q, not orphanstorm or an orphan", p.name, k, kname)
		}
		if storm == 0 || nsPid < lowest {
			storm, lowest = k, nsPid
		}
	}
	orphans = slices.DeleteFunc(kids, func(k int) bool { return k == storm })
	return storm, orphans, nil
}

// taskComm is the command name the kernel gives a process that exec'd path:
// its base name cut to 15 bytes (TASK_COMM_LEN).
func taskComm(path string) string {
	name := filepath.Base(path)
	return name[:min(len(name), 15)]
}

// nameAndNsPid returns the command name of pid and its pid in its own PID
// namespace, from /proc/PID/status.
func nameAndNsPid(pid int) (name string, nsPid int, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "", 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, value, _ := strings.Cut(sc.Text(), ":")
		f := strings.Fields(value)
		switch {
		case key == "Name" && len(f) > 0:
			name = f[0]
		case key == "NSpid" && len(f) > 0:
			// The last is the pid in the innermost namespace.
			if nsPid, err = strconv.Atoi(f[len(f)-1]); err != nil {
				return "", 0, fmt.Errorf("NSpid %q: %w", value, err)
			}
		}
	}
	if name == "" || nsPid == 0 {
		return "", 0, errors.New("no Name or NSpid in its status")
	}
	return name, nsPid, nil
}

// reapLook is one reading of the init's children during the reaping.
type reapLook struct {
	at   time.Duration // monotonic
	kids int
}

// awaitReaped waits until the init p has no child left but storm, and
// returns its readings of the children, the last one at that moment.
//
// Reading the children is costly while they are many, so it is done after
// a pause proportional to how many there were at the previous reading.
// Between readings, the machine's thread count (one small read of
// /proc/loadavg) says when the end is near: it falls by one for every
// process reaped, and once it is down to floor plus a few, where floor is
// what it would be with every orphan gone, the children are read at every
// pause. Other processes starting or ending on the machine move the count
// too, which at worst makes the benchmark read the children more often, or
// wait for the next reading that the pauses schedule anyway.
func awaitReaped(ctx context.Context, p *proc, storm, floor int, deadline time.Time) ([]reapLook, error) {
	var looks []reapLook
	next := time.Now()
	for {
		threads, err := machineThreads()
		if err != nil {
			return nil, err
		}
		if now := time.Now(); !now.Before(next) || threads <= floor+reapNearEnd {
			kids := children(p.pid)
			looks = append(looks, reapLook{at: monotonic(), kids: len(kids)})
			if len(kids) == 1 && kids[0] == storm {
				return looks, nil
			}
			if !slices.Contains(kids, storm) {
				return nil, fmt.Errorf("%s: orphanstorm (pid %d) is gone%s", p.name, storm, p.logTail())
			}
			next = now.Add(time.Duration(len(kids)) * reapPollPerChild)
		}
		if err := p.alive(); err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: %d children left after %v", p.name, looks[len(looks)-1].kids, reapSetupTimeout)
		}
		time.Sleep(reapPollPause)
	}
}

// machineThreads returns how many threads the machine has, the fourth
// field of /proc/loadavg ("running/total"). A zombie counts until it is
// reaped.
func machineThreads() (int, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return 0, fmt.Errorf("/proc/loadavg: %q", b)
	}
	_, total, _ := strings.Cut(f[3], "/")
	return strconv.Atoi(total)
}

// exitWatch records, from its own socket on the kernel's process events
// connector, when each of a set of processes exits: the orphans' exits,
// timestamped by the kernel, tell the init's reaping apart from the
// orphans' own ending. The benchmark's shared listener (procevents.go)
// hands on execs only.
//
// The kernel sends the exit event just after the process became a zombie
// (proc_exit_connector follows exit_notify in do_exit), so its time is when
// the zombie appeared. The event does not always name the parent: an init
// quick enough to reap the zombie before the event is sent leaves its
// parent fields 0. So the processes are told by their pids.
type exitWatch struct {
	fd   int
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	pending map[uint32]bool // the pids whose exit is still to come
	exits   []time.Duration // monotonic, in the order received
	err     error
}

// procEventExit is PROC_EVENT_EXIT of linux/cn_proc.h.
const procEventExit = 0x80000000

// watchExits starts recording the exits of pids.
func watchExits(pids []int) (*exitWatch, error) {
	e, err := openProcEvents() // a socket of its own, not the shared listener
	if err != nil {
		return nil, err
	}
	// A timeout lets the reading goroutine notice close: closing a socket
	// does not wake a thread blocked reading it.
	tv := unix.NsecToTimeval(int64(20 * time.Millisecond))
	if err := unix.SetsockoptTimeval(e.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(e.fd)
		return nil, fmt.Errorf("proc connector: %w", err)
	}
	w := &exitWatch{fd: e.fd, pending: map[uint32]bool{}, stop: make(chan struct{}), done: make(chan struct{})}
	for _, pid := range pids {
		w.pending[uint32(pid)] = true
	}
	go w.loop()
	return w, nil
}

// loop reads events until close.
func (w *exitWatch) loop() {
	defer close(w.done)
	buf := make([]byte, 1<<16)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		n, _, err := unix.Recvfrom(w.fd, buf, 0)
		switch {
		case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
			continue
		case err != nil:
			w.fail(fmt.Errorf("proc connector: %w (exits were lost)", err))
			if errors.Is(err, unix.ENOBUFS) {
				continue
			}
			return
		}
		w.handle(buf[:n])
	}
}

// handle records the exits of the pending pids in one datagram, each once
// (a pid used again later is another process).
func (w *exitWatch) handle(b []byte) {
	forEachProcEvent(b, func(what uint32, at time.Duration, data []byte) {
		if what != procEventExit {
			return
		}
		pid := binary.LittleEndian.Uint32(data) // exit_proc_event.process_pid
		w.mu.Lock()
		if w.pending[pid] {
			delete(w.pending, pid)
			w.exits = append(w.exits, at)
		}
		w.mu.Unlock()
	})
}

func (w *exitWatch) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.mu.Unlock()
}

// close stops recording and closes the socket.
func (w *exitWatch) close() {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	<-w.done
	unix.Close(w.fd)
}

// sample waits until the n orphans' exits have been read (the socket is
// read concurrently, and may lag) and makes the run's sample but for the
// init's CPU time and context switches: released at t0, reaped at the last
// look.
func (w *exitWatch) sample(name string, n int, t0 time.Duration, looks []reapLook) (reapSample, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		exits, err := slices.Clone(w.exits), w.err
		w.mu.Unlock()
		switch {
		case err != nil:
			return reapSample{}, fmt.Errorf("%s: %w", name, err)
		case len(exits) == n:
			return newReapSample(n, t0, exits, looks), nil
		case time.Now().After(deadline):
			return reapSample{}, fmt.Errorf("%s: saw %d orphans exit of %d (exits were lost)", name, len(exits), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// newReapSample computes a sample from the orphans' exit times and the
// looks at the init's children. At each look, the orphans reaped are the
// n+1 children at the release less those seen; those exited are those whose
// exit was timestamped before: the difference is the zombies waiting (at
// least 0: an orphan reaped between its exit and its event counts as
// reaped before it exited).
func newReapSample(n int, t0 time.Duration, exits []time.Duration, looks []reapLook) reapSample {
	slices.Sort(exits)
	end := looks[len(looks)-1].at
	s := reapSample{total: end - t0, lag: end - exits[len(exits)-1]}
	for _, l := range looks {
		exited, _ := slices.BinarySearch(exits, l.at)
		reaped := n + 1 - l.kids
		s.maxZombies = max(s.maxZombies, exited-reaped, 0)
	}
	return s
}

// reapReport is the section's text, and checks the target.
func (b *bench) reapReport(inits []reapInit, samples [][]reapSample) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "## 5. Reaping\n\n")
	fmt.Fprintf(&sb, "Each init runs as PID 1 of a fresh PID namespace (`taskmasterd -- CMD`, single-command mode, and `tini -- CMD`), with CMD = `bench-orphanstorm %d READYFILE` (bench/baseline/orphanstorm.c): a middle process forks %d children blocked reading a pipe and exits, so that they are re-parented to the init; then orphanstorm creates READYFILE. The benchmark checks that the init has %d children (orphanstorm and the orphans), takes the monotonic time and sends SIGUSR1 to orphanstorm, which closes the pipe: every orphan reads EOF and exits at once, and the init must reap them all. **Reap time** runs from just before that signal until the init's only child is orphanstorm (`/proc/PID/task/*/children`, read after a pause of %v per child seen the last time, since reading a long list is costly, and at every %v once the machine's thread count in `/proc/loadavg`, which falls as zombies are reaped, says the end is near). **After last exit** is the reap time's end less the last orphan's exit, as timestamped by the kernel's process events connector: the part the init adds to the orphans' own ending. **Init CPU** and **init switches** are the CPU time and the context switches, voluntary or not, of all the init's threads over the reap time (`/proc/PID/task/*/schedstat` and `status`). **Max zombies** is the most orphans that had exited but were not reaped yet at one reading of the children. Median (min–max) of %d runs, inits alternating, each a fresh namespace.\n\n",
		b.orphanCount, b.orphanCount, b.orphanCount+1, reapPollPerChild, reapPollPause, b.runs)
	sb.WriteString("| init | reap time ms | after last exit ms | init CPU ms | init switches | max zombies |\n|---|---|---|---|---|---|\n")
	medians := make([]float64, len(inits))
	switchMedians := make([]float64, len(inits))
	for i, in := range inits {
		var total, lag, cpu, switches, zombies []float64
		for _, s := range samples[i] {
			total = append(total, ms([]time.Duration{s.total})[0])
			lag = append(lag, ms([]time.Duration{s.lag})[0])
			cpu = append(cpu, ms([]time.Duration{s.cpu})[0])
			switches = append(switches, float64(s.switches))
			zombies = append(zombies, float64(s.maxZombies))
		}
		medians[i] = summarize(total).median
		switchMedians[i] = summarize(switches).median
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s |\n", in.name, summarize(total).medianRange(), summarize(lag).medianRange(), summarize(cpu).medianRange(), summarize(switches).countRange(), summarize(zombies).countRange())
	}
	r := ratio(medians[0], medians[1])
	fmt.Fprintf(&sb, "\ntaskmasterd / tini, reap time (medians): %.2fx.\n", r)
	b.check(fmt.Sprintf("reaping within 1.2x of tini (%d orphans)", b.orphanCount), r <= 1.2,
		"%.2fx (%s ms against %s ms)", r, num(medians[0]), num(medians[1]))
	sw := ratio(switchMedians[0], switchMedians[1])
	b.check(fmt.Sprintf("reaping with at most 2x tini's context switches (%d orphans)", b.orphanCount), sw <= 2,
		"%.2fx (%.0f against %.0f)", sw, switchMedians[0], switchMedians[1])
	return sb.String()
}
