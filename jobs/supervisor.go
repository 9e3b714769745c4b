// Package jobs supervises the jobs described by taskmaster job files: it
// keeps each job's instances in the state their settings ask for, restarts
// them, stops them, and reloads the job files when they change.
//
// One goroutine (Supervisor.Run) owns all job state. Process exits, timer
// firings, what ready and health checks learn (checks.go) and requests
// reach it over channels (exits and checks' results through unbounded
// queues, so that the reaper never waits for it); requests are closures
// run by that goroutine, so no lock guards the state. Its events go out to
// subscribers by way of another goroutine (fanout.go), so that the number
// of subscribers does not slow it down.
package jobs

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/notify"
	"github.com/taskmaster/taskmaster/reaper"
)

// Errors returned by Supervisor operations.
var (
	ErrNoSuchJob    = errors.New("no such job")
	ErrRedundant    = errors.New("redundant")
	ErrShuttingDown = errors.New("taskmasterd is shutting down")
	ErrStopped      = errors.New("supervisor stopped")
	ErrNoValidFile  = errors.New("no valid job file")
)

// Starter starts the process of an instance and tells when it ends.
// The real one (NewStarter) forks through the reaper; tests fake it.
type Starter interface {
	// Start starts p and returns its pid. When the process ends, onExit is
	// called once with its exit, from another goroutine, maybe before Start
	// has returned; it does not block. It is not called when Start fails.
	Start(p *Proc, onExit func(reaper.Exit)) (pid int, err error)
}

// Recorder keeps a record of the process groups taskmasterd started, so
// that a taskmasterd started after this one was SIGKILLed can stop those
// still alive instead of starting duplicates beside them (package
// pgstate). It is called from the supervisor's goroutine only, once per
// start and once per end: it must be quick.
type Recorder interface {
	// Started records that instance started process pid, the leader of a
	// process group of its own, which is stopped with stopSignal and, after
	// stopTime, SIGKILL.
	Started(instance string, pid int, stopSignal syscall.Signal, stopTime time.Duration)
	// Ended records that process pid has ended and was reaped.
	Ended(pid int)
}

// Critical says that a critical job ended for good.
type Critical struct {
	Instance string // NAME:N
	Code     int    // its exit code, or 128+signal, or 126/127 when it could not be started
}

// Config is what a Supervisor needs.
type Config struct {
	Dir     string  // the jobs directory
	Starter Starter // starts processes
	// Reaps subscribes to the reaper's word that processes were reaped
	// (reaper.Reaper.Subscribe); nil: no such word. The Supervisor is
	// subscribed only while it waits for a process group to go.
	Reaps  func() (reaped <-chan struct{}, unsubscribe func())
	Clock  Clock        // nil means the system clock
	Logger *slog.Logger // nil discards
	// Kill sends signals, as kill(2) does (negative pid: a process group);
	// nil means syscall.Kill. Tests fake it.
	Kill func(pid int, sig syscall.Signal) error
	// Recorder records every process started and ended; nil records nothing.
	Recorder Recorder
	// NotifyDirs are where the notify sockets of ready checks may go, in
	// order of preference (package notify); none: the temporary directory.
	NotifyDirs []string
}

// Supervisor keeps jobs in their configured states. Create it with New, run
// Run in a goroutine, then call its methods from any goroutine.
type Supervisor struct {
	cfg      Config
	log      *slog.Logger
	clock    Clock
	reqs     chan func()
	events   chan any         // timer firings
	exits    queue[exitEvent] // process exits and the outcomes of starts
	launches queue[launchReq] // starts for the launcher (launch.go)
	done     chan struct{}
	critical chan Critical

	reloading  sync.Mutex    // held by Reload from reading the directory to applying it
	files      jobfile.Cache // the job files last read, under reloading
	afterLoad  func()        // tests: runs between reading the directory and applying it
	otherEvent func(any)     // tests: handles events of a type handle does not know

	// Owned by the Run goroutine.
	jobs            map[string]*job
	sortedJobs      []*job // jobs by name, until one is added or deleted (allJobs)
	waiters         []*waiter
	shutting        bool
	leftovers       map[int]*leftoverGroup     // by process group: what ended processes left behind, being stopped
	killedLeftovers []string                   // instances whose leftovers needed SIGKILL during the shutdown
	subs            map[*Subscription]struct{} // event subscribers, as Run knows them
	fan             *fanout                    // delivers their events (fanout.go)
	wheel           wheel                      // the alarms of the checks (wheel.go)
	inbox           queue[func()]              // what the checks learnt, to handle (run by Run)
	hub             *notify.Hub                // the notify sockets, once one is needed
	reaped          <-chan struct{}            // while subscribed to Config.Reaps (watchReaps)
	unwatch         func()                     // ends that subscription

	fileErrors uint64 // job files found invalid, for Stats
}

// New returns a Supervisor with no jobs.
func New(cfg Config) *Supervisor {
	if cfg.Clock == nil {
		cfg.Clock = SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Kill == nil {
		cfg.Kill = syscall.Kill
	}
	return &Supervisor{
		cfg:       cfg,
		log:       cfg.Logger,
		clock:     cfg.Clock,
		reqs:      make(chan func()),
		events:    make(chan any, 64),
		exits:     newQueue[exitEvent](),
		launches:  newQueue[launchReq](),
		inbox:     newQueue[func()](),
		done:      make(chan struct{}),
		critical:  make(chan Critical, 1),
		jobs:      make(map[string]*job),
		leftovers: make(map[int]*leftoverGroup),
		subs:      make(map[*Subscription]struct{}),
		fan:       newFanout(),
	}
}

// Critical returns a channel that receives the first end of a critical job.
func (s *Supervisor) Critical() <-chan Critical { return s.critical }

// Run owns the jobs until ctx ends.
func (s *Supervisor) Run(ctx context.Context) {
	defer close(s.done)
	defer s.closeHub()
	defer s.closeSubscriptions()
	defer s.unwatchReaps()
	go s.runLauncher()
	go s.fan.run()
	for {
		select {
		case f := <-s.reqs:
			f()
		case ev := <-s.events:
			s.handle(ev)
			// And the ones already queued, no more: the starttime timers
			// of a job's instances all fire at once, and settle, which
			// looks at every instance, need not run after each. Draining
			// until the queue is empty instead would starve requests
			// while instances crash-loop, since their timers keep coming
			// as fast as their restarts are handled.
			for range len(s.events) { // Run is the only receiver
				s.handle(<-s.events)
			}
		case <-s.exits.ready:
			// All the exits that came, handled in one go: when hundreds of
			// processes end at once, settle runs once, not once per exit.
			for _, ev := range s.exits.take() {
				s.handleExit(ev)
			}
		case <-s.reaped:
			s.groupsChanged()
		case <-s.inbox.ready:
			for _, f := range s.inbox.take() {
				f()
			}
		case <-ctx.Done():
			return
		}
		s.settle()
		s.fan.flush() // what this turn published, to the subscribers
	}
}

// call runs f on the Run goroutine and waits for it, and for the events
// published until then to reach the subscribers (reply).
// It does not give up when a request's context ends: f is quick, and a
// request whose client has gone (a half-closed connection) must still be
// carried out; only waiting for its outcome is abandoned (see await).
func (s *Supervisor) call(f func()) error {
	ran := make(chan struct{})
	select {
	case s.reqs <- func() { f(); s.reply(func() { close(ran) }) }:
	case <-s.done:
		return ErrStopped
	}
	<-ran // f runs without blocking, so this is quick
	return nil
}

// await runs start on the Run goroutine, then waits until cond (checked
// after every event) holds, and returns what finish returns then.
func (s *Supervisor) await(ctx context.Context, start func() error, cond func() bool, finish func() error) error {
	result := make(chan error, 1)
	err := s.call(func() {
		if err := start(); err != nil {
			result <- err
			return
		}
		s.waiters = append(s.waiters, &waiter{cond: cond, ctx: ctx, reply: func() {
			err := finish()
			s.reply(func() { result <- err })
		}})
	})
	if err != nil {
		return err
	}
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrStopped
	}
}

// waiter is a request waiting for the jobs to reach some state.
type waiter struct {
	cond  func() bool
	ctx   context.Context
	reply func()
}

type timerEvent struct {
	in  *instance
	seq uint64
}

func (s *Supervisor) handle(ev any) {
	switch ev := ev.(type) {
	case timerEvent:
		ev.in.timerFired(s, ev.seq)
	case leftoverTimer:
		s.leftoverTimerFired(ev.g)
	case wheelTick:
		s.wheelFired(ev)
	default:
		if s.otherEvent != nil {
			s.otherEvent(ev)
		}
	}
}

func (s *Supervisor) handleExit(ev exitEvent) {
	if ev.launch != nil {
		s.launched(ev.in, *ev.launch)
		return
	}
	if s.cfg.Recorder != nil {
		s.cfg.Recorder.Ended(ev.exit.Pid)
	}
	if ev.in.pid != ev.exit.Pid {
		return // the instance moved on (should not happen: pids are ours until reaped)
	}
	ev.in.job.stats.Exits++
	ev.in.exited(s, ev.exit.Status)
}

// post delivers an event to Run, unless it has ended.
func (s *Supervisor) post(ev any) {
	select {
	case s.events <- ev:
	case <-s.done:
	}
}

func (s *Supervisor) groupsChanged() {
	waiting := false
	for _, j := range s.allJobs() {
		for _, in := range j.insts {
			in.groupChanged(s)
			waiting = waiting || in.waitsForGroup()
		}
	}
	s.leftoversChanged()
	if !waiting && len(s.leftovers) == 0 {
		s.unwatchReaps()
	}
}

// watchReaps subscribes to the reaper's word that processes were reaped,
// unless it is already. Only a Supervisor waiting for a process group to
// go is subscribed (groupAlive subscribes, groupsChanged ends the
// subscription when no group is left to wait for): else every batch of
// exits, of its own processes or of the orphans that a PID 1 adopts,
// would wake the Run goroutine a second time, on another thread than the
// reaper's, for nothing.
// It reports whether it subscribed now.
func (s *Supervisor) watchReaps() bool {
	if s.reaped != nil || s.cfg.Reaps == nil {
		return false
	}
	s.reaped, s.unwatch = s.cfg.Reaps()
	return true
}

func (s *Supervisor) unwatchReaps() {
	if s.unwatch != nil {
		s.unwatch()
	}
	s.reaped, s.unwatch = nil, nil
}

// The runtime of the instances' state machines.

func (s *Supervisor) now() time.Time { return s.clock.Now() }

func (s *Supervisor) signalGroup(pgid int, sig syscall.Signal) {
	if pgid <= 0 {
		return
	}
	err := s.cfg.Kill(-pgid, sig)
	if errors.Is(err, syscall.ESRCH) {
		// The leader may have moved to a group of its own (setsid);
		// it is still ours to signal.
		err = s.cfg.Kill(pgid, sig)
	}
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		s.log.Warn("cannot signal process group", "pgid", pgid, "signal", jobfile.SignalName(sig), "err", err)
	}
}

// groupAlive reports whether process group pgid has a process left, a
// zombie included. A group found alive is seen to go: the Supervisor is
// subscribed to the reaper's word (watchReaps) before the last look.
func (s *Supervisor) groupAlive(pgid int) bool {
	if !s.groupExists(pgid) {
		return false
	}
	if s.watchReaps() {
		return s.groupExists(pgid) // it may have gone before the subscription
	}
	return true
}

func (s *Supervisor) groupExists(pgid int) bool {
	if pgid <= 0 {
		return false
	}
	err := s.cfg.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func (s *Supervisor) schedule(in *instance, seq uint64, d time.Duration) Timer {
	return s.clock.AfterFunc(d, func() { s.post(timerEvent{in: in, seq: seq}) })
}

func (s *Supervisor) mayRestart(in *instance) bool {
	return !s.shutting && !in.retire && !in.job.removed && !in.job.stopAfterDependents
}

// changed logs a state change: from, to, the process, and why (the detail:
// the exit that caused it, who asked for a stop, the retry to come).
func (s *Supervisor) changed(in *instance, from State) {
	s.follow(in)
	s.publishInstance(in, from)
	attrs := []any{"instance", in.name, "from", from.String(), "to", in.state.String()}
	if in.pid != 0 {
		attrs = append(attrs, "pid", in.pid)
	}
	if in.detail != "" {
		attrs = append(attrs, "detail", in.detail)
	}
	if in.restarts > 0 && in.state.active() {
		attrs = append(attrs, "restarts", in.restarts)
	}
	level := slog.LevelInfo
	if in.state == Fatal || in.state == Backoff {
		level = slog.LevelWarn
	}
	s.log.Log(context.Background(), level, "state", attrs...)
}
