package jobs

import (
	"sync"
	"syscall"

	"github.com/taskmaster/taskmaster/reaper"
)

// Starting processes off Run.
//
// A start returns only once the forked child has exec'd its program (Go
// forks with vfork: the parent waits for the child's exec), and on a
// machine whose cores are busy that waits for a core: under a crash loop
// of 200 instances on 2 saturated cores, perf trace measured 4.9 ms a
// start on average and up to 22 ms, and Run, which made every start, was
// blocked in clone 60% of the time, with every request and event behind
// it. So Run prepares a start (the instance's checks, its notify socket)
// and the launcher's goroutine makes it, one start after the other, in the
// order asked for; the outcome comes back through the exit queue, always
// ahead of the end of the process it started.
//
// Meanwhile the instance is STARTING with no pid (in.launching): what it
// does then is in instance.go (spawn, launched), and no observer is told
// of that state: its change is told once the outcome is known, as it was
// when starts were made on Run.

// launchReq is a start for the launcher to make.
type launchReq struct {
	in   *instance
	gen  uint64 // in.gen when it was asked for
	proc *Proc
	ends notifyEnds // the child's ends of its notify socket or pipe, closed once it has them
}

// launchResult is the outcome of a start.
type launchResult struct {
	gen uint64
	pid int
	err error
}

// launch asks the launcher to start a process for in; Run learns the
// outcome from the exit queue (handleExit).
func (s *Supervisor) launch(in *instance) {
	s.resetChecks(in)
	ends, err := s.openNotify(in)
	if err != nil {
		s.launched(in, launchResult{gen: in.gen, err: err})
		return
	}
	s.launches.push(launchReq{in: in, gen: in.gen, ends: ends, proc: &Proc{
		Name: in.name, Index: in.index, Spec: in.spec, Ring: in.ring, Point: in.point, Interactive: in.job.interactive,
		Env: ends.env, Files: ends.files,
	}})
}

// runLauncher makes the starts asked for until Run ends. It waits on a
// channel: an idle taskmasterd does not wake it.
func (s *Supervisor) runLauncher() {
	for {
		select {
		case <-s.launches.ready:
		case <-s.done:
			return
		}
		for _, r := range s.launches.take() {
			s.startNow(r)
		}
	}
}

// startNow makes one start and queues its outcome for Run. A process may end
// before Start returns (its exit is reaped once the reaper has its pid):
// such an exit is held back until the outcome is queued, so that Run
// always learns of a process's start before its end.
func (s *Supervisor) startNow(r launchReq) {
	var mu sync.Mutex
	var told bool
	var early []exitEvent
	onExit := func(e reaper.Exit) {
		mu.Lock()
		defer mu.Unlock()
		ev := exitEvent{in: r.in, exit: e}
		if !told {
			early = append(early, ev)
			return
		}
		s.exits.push(ev)
	}
	pid, err := s.cfg.Starter.Start(r.proc, onExit)
	r.ends.closeChildEnds()
	mu.Lock()
	defer mu.Unlock()
	told = true
	s.exits.push(append([]exitEvent{{in: r.in, launch: &launchResult{gen: r.gen, pid: pid, err: err}}}, early...)...)
}

// launched handles the outcome of a start, on Run.
func (s *Supervisor) launched(in *instance, r launchResult) {
	if r.err != nil {
		s.closeNotify(in)
		s.log.Error("cannot start", "instance", in.name, "err", r.err)
	} else if s.cfg.Recorder != nil {
		// Its exit, even if it came already, is queued after this: Ended
		// always follows Started.
		s.cfg.Recorder.Started(in.name, r.pid, in.spec.StopSignal, in.spec.StopTime)
	}
	if !in.launching || in.gen != r.gen {
		// Cannot happen: an instance being started waits for the outcome
		// of its start before it does anything else. Should it, the
		// process would belong to no instance: end it.
		s.log.Error("a process started for an instance that no longer waits for it", "instance", in.name, "pid", r.pid)
		s.signalGroup(r.pid, syscall.SIGKILL)
		return
	}
	in.launched(s, r.pid, r.err)
}
