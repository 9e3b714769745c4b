package pid1

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/taskmaster/taskmaster/fleet"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/dirwatch"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/output"
	"github.com/taskmaster/taskmaster/pgstate"
	"github.com/taskmaster/taskmaster/reaper"
	"github.com/taskmaster/taskmaster/spawnhelper"
)

// CommandJob is the job name of the command in single-command mode.
const CommandJob = "main"

// Config is what taskmasterd was asked to do.
type Config struct {
	JobsDir  string        // the jobs directory
	LoadJobs bool          // supervise the jobs of JobsDir (false in plain single-command mode)
	Watch    dirwatch.Mode // how to notice changes in JobsDir
	Command  []string      // single-command mode: the command to run as a critical job
	Grace    time.Duration // how long leftover processes get between SIGTERM and SIGKILL at shutdown
	StateDir string        // records the process groups started (package pgstate); "" for none
	Control  ControlConfig // the control server
	HTTP     HTTPConfig    // the HTTP listener: live link, dashboard, metrics, health
	Fleet    FleetConfig   // the fleet link: manager, agent or neither (fleet.go)
	Logger   *slog.Logger
}

// daemon is one run of taskmasterd.
type daemon struct {
	cfg    Config
	sigs   *Signals
	log    *slog.Logger
	reaper *reaper.Reaper
	// spawner starts the jobs' processes, through a helper once
	// taskmasterd holds many descriptors (package spawnhelper).
	spawner *spawnhelper.Forker
	sup     *jobs.Supervisor
	files   *output.FileSet
	poller  *output.Poller // reads the jobs' output pipes
	watch   *dirwatch.Watcher
	ctl     *controlServer
	state   *pgstate.Dir // the state directory, when there is one
	http    *httpServer

	running     sync.WaitGroup // the goroutines start started
	shutting    atomic.Bool    // read by /healthz
	critical    *jobs.Critical // what ended taskmasterd, if a critical job did
	hurry       chan struct{}  // closed by a second shutdown signal
	shutdownReq chan struct{}  // a shutdown asked for over the control port
	hurryOne    sync.Once
	finished    chan int    // how many processes the shutdown SIGKILLed, once it is over
	giveUp      func()      // ends the wait for the jobs' processes after a hurry
	reopen      sync.Mutex  // one SIGUSR1 reopen at a time
	reopenAgain atomic.Bool // a SIGUSR1 came after the reopen under way began

	manager       *fleet.Manager // when a fleet manager (fleet.go)
	managerDone   chan struct{}
	stopFleetJobs func() error // watches -fleet-jobs
	agentStop     func()       // when a fleet agent
	agentDone     chan struct{}
}

// Run runs taskmasterd until it shuts down, and returns its exit code.
// sigs must come from early.Signals: caught before anything else ran.
func Run(cfg Config, sigs *Signals) int {
	tuneGC(cfg)
	d := &daemon{
		cfg: cfg, sigs: sigs, log: cfg.Logger,
		hurry: make(chan struct{}), finished: make(chan int, 1), shutdownReq: make(chan struct{}, 1),
	}
	ctx, stop := context.WithCancel(context.Background())
	defer d.closeState() // last: the supervisor records ends until it stops
	defer d.running.Wait()
	defer stop()
	defer d.closePoller()
	if err := d.start(ctx); err != nil {
		d.log.Error("cannot start", "err", err)
		return ExitError
	}
	return d.loop()
}

func (d *daemon) start(ctx context.Context) error {
	BecomeSubreaper(d.log)
	d.reaper = reaper.New(d.log)
	d.running.Go(func() { d.reaper.Run(ctx, d.sigs.Child) })
	d.spawner = spawnhelper.New(d.reaper, spawnhelper.DefaultThreshold, d.log)
	d.files = output.NewFileSet(d.log)
	poller, err := output.NewPoller()
	if err != nil {
		return err
	}
	d.poller = poller
	recorder := d.openState() // before any job starts: what a previous run left is stopped first
	d.sup = jobs.New(jobs.Config{
		Dir: d.cfg.JobsDir,
		Starter: jobs.NewStarter(jobs.StarterConfig{
			Forker: d.spawner,
			Env:    jobEnvironment(),
			Stdout: output.NewConsole(os.Stdout),
			Stderr: output.NewConsole(os.Stderr),
			Files:  d.files,
			Poller: d.poller,
			Logger: d.log,
		}),
		Reaps:    d.reaper.Subscribe,
		Logger:   d.log,
		Recorder: recorder,
		// /dev/shm: Docker mounts it even in an image FROM scratch, which
		// has no /tmp.
		NotifyDirs: []string{os.TempDir(), "/dev/shm"},
	})
	d.running.Go(func() { d.sup.Run(ctx) })
	// Listen before any job starts: a start that fails here (the port is
	// taken) must not leave processes behind.
	if err := d.cfg.Fleet.check(); err != nil {
		return err
	}
	if err := d.startManager(); err != nil {
		return err
	}
	if err := d.startControl(); err != nil {
		d.stopManager()
		return err
	}
	if err := d.startHTTP(); err != nil {
		d.stopControl()
		d.stopManager()
		return err
	}
	if d.cfg.LoadJobs {
		if err := d.loadJobs(); err != nil {
			d.stopHTTP()
			d.stopControl()
			d.stopManager()
			return err
		}
	}
	d.startAgent()
	if len(d.cfg.Command) > 0 {
		return d.sup.AddCommand(context.Background(), commandSpec(d.cfg.Command))
	}
	return nil
}

// openState opens the state directory, stops the process groups that a
// SIGKILLed taskmasterd left running (recorded there), and returns the
// journal of this run. It returns nil when there is nothing to record to:
// no state directory; PID 1, whose processes cannot outlive it (the
// kernel kills a PID namespace's processes with its PID 1); a directory
// another taskmasterd uses, or one that cannot be used. Those are no
// reason not to start: the last two are warnings.
func (d *daemon) openState() jobs.Recorder {
	dir := d.cfg.StateDir
	if dir == "" {
		return nil
	}
	if os.Getpid() == 1 {
		d.log.Debug("state directory not used: as PID 1, nothing taskmasterd starts can outlive it", "dir", dir)
		return nil
	}
	st, err := pgstate.Open(dir, pgstate.Options{Logger: d.log})
	switch {
	case errors.Is(err, pgstate.ErrLocked):
		d.log.Warn("state directory in use by another taskmasterd: process groups are not recorded, and none is stopped",
			"dir", dir, "err", err)
		return nil
	case err != nil:
		d.log.Warn("state directory not usable: process groups are not recorded, and those an earlier taskmasterd left are not stopped",
			"dir", dir, "err", err)
		return nil
	}
	pgstate.Reclaim(st.Left(), pgstate.ReclaimOptions{Logger: d.log})
	journal, err := st.Record()
	if err != nil {
		d.log.Warn("state directory not usable: process groups are not recorded", "dir", dir, "err", err)
		_ = st.Close()
		return nil
	}
	d.state = st
	return journal
}

func (d *daemon) closeState() {
	if d.state == nil {
		return
	}
	if err := d.state.Close(); err != nil {
		d.log.Warn("state directory", "err", err)
	}
}

// outputWait is how long taskmasterd waits, once its processes are gone,
// for their last output to reach destinations that block.
const outputWait = 2 * time.Second

// closePoller passes on what is left of the jobs' output once taskmasterd
// is done: by then the processes are gone, and their pipes with them,
// unless a process outside taskmasterd's reach holds one. A destination
// that blocks (a FIFO nobody reads) gets outputWait, not for ever.
func (d *daemon) closePoller() {
	if d.poller == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), outputWait)
	defer cancel()
	if err := d.poller.Shutdown(ctx); err != nil {
		d.log.Warn("jobs' last output not passed on", "err", err)
	}
}

func (d *daemon) loadJobs() error {
	// Watch first, then load: a file written in between is then both
	// read and notified, never lost.
	w, err := dirwatch.New(d.cfg.JobsDir, dirwatch.Options{Mode: d.cfg.Watch, Logger: d.log})
	if err != nil {
		return err
	}
	if err := d.sup.Reload(context.Background(), ""); err != nil {
		_ = w.Close()
		return err
	}
	d.watch = w
	return nil
}

// commandSpec is the job of single-command mode: started once, never
// restarted, critical, and given every signal taskmasterd receives.
func commandSpec(cmd []string) *jobfile.Spec {
	return &jobfile.Spec{
		Name: CommandJob, Cmd: cmd, NumProcs: 1, Umask: -1,
		AutoStart: true, AutoRestart: jobfile.RestartNever, ExitCodes: []int{0},
		StopSignal: syscall.SIGTERM, StopTime: 10 * time.Second,
		Critical: true, ForwardSignals: Forwardable(),
	}
}

func (d *daemon) loop() int {
	var changes <-chan struct{}
	if d.watch != nil {
		changes = d.watch.C
	}
	for {
		select {
		case sig := <-d.sigs.Other:
			d.onSignal(sig.(syscall.Signal))
		case c := <-d.sup.Critical():
			d.critical = &c
			d.shutdown("critical job ended: " + c.Instance)
		case <-changes:
			go d.reload()
		case <-d.shutdownReq:
			d.log.Info("shutdown requested over the control port: as on SIGTERM")
			d.onSignal(syscall.SIGTERM)
		case killed := <-d.finished:
			return d.exitCode(killed)
		}
	}
}

func (d *daemon) onSignal(sig syscall.Signal) {
	d.log.Debug("signal", "signal", jobfile.SignalName(sig))
	single := len(d.cfg.Command) > 0
	if single && !d.shutting.Load() {
		_ = d.sup.Forward(context.Background(), sig)
	}
	switch sig {
	case syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT:
		switch {
		case d.shutting.Load():
			d.hurryUp()
		case !single:
			d.shutdown("signal " + jobfile.SignalName(sig))
		case !d.commandRuns():
			// The command was stopped on request: nobody is left to pass
			// the signal on to, so it is taskmasterd's to act on.
			d.shutdown("signal " + jobfile.SignalName(sig) + " with the command stopped")
		}
	case syscall.SIGHUP:
		if d.cfg.LoadJobs {
			d.log.Info("reloading the job files", "reason", "signal SIGHUP")
			go d.reload()
		}
	case syscall.SIGUSR1:
		d.log.Info("reopening the log files", "reason", "signal SIGUSR1")
		go d.reopenLogs()
	case syscall.SIGPIPE:
	default:
		if !single {
			_ = d.sup.Forward(context.Background(), sig)
		}
	}
}

// requestShutdown is the control port's shutdown: the loop handles it
// exactly as SIGTERM. It never blocks: one pending request is enough.
func (d *daemon) requestShutdown() {
	select {
	case d.shutdownReq <- struct{}{}:
	default:
	}
}

// commandRuns reports whether single-command mode's command has a process.
func (d *daemon) commandRuns() bool {
	st, err := d.sup.Status(context.Background(), CommandJob)
	if err != nil || len(st) == 0 {
		return false
	}
	for _, p := range st[0].Processes {
		if p.Pid != 0 {
			return true
		}
	}
	return false
}

// reopenLogs reopens the jobs' log files, off the signal loop: a log file
// that blocks (a FIFO nobody reads) must not keep taskmasterd from hearing
// its next signal.
func (d *daemon) reopenLogs() {
	d.reopenAgain.Store(true)
	for d.reopenAgain.Load() {
		if !d.reopen.TryLock() {
			return // the reopen under way goes round once more for this signal
		}
		for d.reopenAgain.Swap(false) {
			if err := d.files.Reopen(); err != nil {
				d.log.Error("cannot reopen log files", "err", err)
			}
		}
		d.reopen.Unlock() // a signal between the last Swap and here is seen above
	}
}

func (d *daemon) reload() {
	if err := d.sup.Reload(context.Background(), ""); err != nil {
		d.log.Error("reload failed", "err", err)
	}
}

// shutdown stops every job, then the leftover processes, then the control
// server; the loop returns the exit code once it is done.
func (d *daemon) shutdown(reason string) {
	if d.shutting.Load() {
		return
	}
	d.shutting.Store(true)
	d.log.Info("shutting down", "reason", reason)
	ctx, giveUp := context.WithCancel(context.Background())
	d.giveUp = giveUp
	go func() {
		defer giveUp()
		killed := d.stopJobs(ctx)
		d.stopAgent()     // after the jobs: the manager sees them stop
		d.spawner.Close() // not a leftover process
		sw := &sweeper{proc: "/proc", self: os.Getpid(), reaper: d.reaper, grace: d.cfg.Grace, skip: d.hurry, log: d.log}
		killed += sw.run()
		d.stopHTTP()
		d.stopControl()
		d.stopManager()
		if d.watch != nil {
			_ = d.watch.Close()
		}
		d.finished <- killed
	}()
}

// stopJobs stops every job and returns how many instances had to be
// SIGKILLed.
func (d *daemon) stopJobs(ctx context.Context) int {
	killed, err := d.sup.Shutdown(ctx)
	if err != nil {
		// Only a process stuck in the kernel outlives SIGKILL this long.
		d.log.Error("processes still there after SIGKILL; exiting anyway", "err", err)
		return max(1, len(killed))
	}
	if len(killed) > 0 {
		d.log.Warn("SIGKILLed after their stoptime", "instances", killed)
	}
	return len(killed)
}

// hurryUp answers a second shutdown signal: SIGKILL everything now, and
// give the processes killWait to be gone.
func (d *daemon) hurryUp() {
	d.hurryOne.Do(func() {
		d.log.Warn("second signal: killing every process now")
		time.AfterFunc(killWait, d.giveUp) // first: whatever KillAll meets
		close(d.hurry)
		_ = d.sup.KillAll(context.Background())
	})
}

func (d *daemon) exitCode(killed int) int {
	switch {
	case d.critical != nil:
		return d.critical.Code
	case killed > 0:
		return ExitKilled
	}
	return ExitOK
}
