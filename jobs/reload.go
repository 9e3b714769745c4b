package jobs

import (
	"context"
	"fmt"
	"slices"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// Reload reads the jobs directory and applies what changed: a new file
// starts its job (if autostart), a removed file stops and forgets its job,
// a changed file restarts only that job, a change of numprocs or of settings
// that do not change how a process is started keeps running processes, and
// an unchanged job is not touched. An invalid file leaves the last good
// version running; its error shows in the log and in status.
//
// With only set, only that job's file is applied, and its error (if the file
// is invalid) is returned.
func (s *Supervisor) Reload(ctx context.Context, only string) error {
	// One reload at a time, from reading the directory to applying what
	// was read: two overlapping ones could apply an older read last.
	s.reloading.Lock()
	defer s.reloading.Unlock()
	loaded, err := s.files.LoadDir(s.cfg.Dir)
	if err != nil {
		s.log.Error("cannot read jobs directory", "dir", s.cfg.Dir, "err", err)
		return err
	}
	if s.afterLoad != nil {
		s.afterLoad()
	}
	var result error
	err = s.call(func() {
		switch {
		case s.shutting:
			result = ErrShuttingDown
		case only != "":
			result = s.applyOne(only, loaded)
		default:
			s.applyAll(loaded)
		}
	})
	if err != nil {
		return err
	}
	return result
}

func (s *Supervisor) applyAll(loaded map[string]jobfile.Loaded) {
	for _, j := range s.allJobs() {
		if _, ok := loaded[j.name]; !ok && !j.pinned && !j.removed {
			s.remove(j)
		}
	}
	names := make([]string, 0, len(loaded))
	for name := range loaded {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s.update(name, loaded[name])
	}
}

func (s *Supervisor) applyOne(name string, loaded map[string]jobfile.Loaded) error {
	l, ok := loaded[name]
	if !ok {
		j := s.jobs[name]
		if j == nil || j.pinned || j.removed {
			return fmt.Errorf("%w: %q (no %s%s in %s)", ErrNoSuchJob, name, name, jobfile.Suffix, s.cfg.Dir)
		}
		s.remove(j)
		return nil
	}
	s.update(name, l)
	return l.Err
}

func (s *Supervisor) remove(j *job) {
	s.log.Info("job file removed; stopping the job", "job", j.name)
	s.publishFile(j.name, FileRemoved, nil)
	j.removed = true
	j.stopAfterDependents = false // stopped now, not in an ordered stop's turn
	for _, in := range j.insts {
		in.stop(s, whyFileRemoved)
	}
}

func (s *Supervisor) update(name string, l jobfile.Loaded) {
	j := s.jobs[name]
	if j == nil {
		j = newJob(name, s.now())
		s.setJob(name, j)
	}
	if j.pinned {
		s.log.Warn("job file ignored: the name belongs to the command taskmasterd runs", "file", l.Path)
		return
	}
	wasRemoved := j.removed
	j.removed = false
	if l.Err != nil {
		s.invalid(j, l.Err)
		if wasRemoved && j.spec != nil {
			s.restore(j) // the last good version keeps running
		}
		return
	}
	hadErr := j.fileErr != nil
	j.fileErr = nil
	switch old := j.spec; {
	case old == nil:
		s.load(j, l.Spec)
	case old.Equal(l.Spec):
		if hadErr { // back to the version in use: the file is fine again
			s.publishFile(j.name, FileUpdated, nil)
		}
	case old.SameProcess(l.Spec):
		s.updateInPlace(j, l.Spec)
	default:
		s.replace(j, l.Spec)
	}
	if wasRemoved {
		s.restore(j)
	}
}

// restore brings back a job whose file came back while it was being
// removed: its instances were told to stop, so an autostart job is asked
// to start again (once stopped).
func (s *Supervisor) restore(j *job) {
	s.log.Info("job file is back; keeping the job", "job", j.name)
	if !j.spec.AutoStart {
		return
	}
	for _, in := range j.live() {
		if !in.pending && !in.restartDue && !in.state.active() {
			in.requestStart()
		}
	}
}

func (s *Supervisor) invalid(j *job, err error) {
	if j.fileErr != nil && j.fileErr.Error() == err.Error() {
		return // already reported
	}
	j.fileErr = err
	s.fileErrors++
	s.publishFile(j.name, FileInvalid, err)
	if j.spec != nil {
		s.log.Error("invalid job file; keeping the last good version", "job", j.name, "err", err)
		return
	}
	s.log.Error("invalid job file", "job", j.name, "err", err)
}

// load sets up a job seen for the first time (or valid for the first time).
func (s *Supervisor) load(j *job, spec *jobfile.Spec) {
	j.spec = spec
	added := j.resize(s.now())
	s.log.Info("job loaded", "job", j.name, "numprocs", spec.NumProcs, "autostart", spec.AutoStart)
	s.publishFile(j.name, FileAdded, nil)
	if spec.AutoStart {
		for _, in := range added {
			in.requestStart()
		}
	}
}

// updateInPlace applies a change that does not alter how processes are
// started: settings take effect at once, and a change of numprocs adds or
// retires instances without touching the others.
func (s *Supervisor) updateInPlace(j *job, spec *jobfile.Spec) {
	wasActive := j.active()
	j.spec = spec
	for _, in := range j.insts {
		in.spec = spec
		s.follow(in) // a health check added or removed
	}
	s.resize(j, spec.AutoStart || wasActive)
	s.log.Info("job updated in place", "job", j.name, "numprocs", spec.NumProcs)
	s.publishFile(j.name, FileUpdated, nil)
}

// replace applies a change to how the job's processes are started: its
// processes are stopped and started again with the new settings.
func (s *Supervisor) replace(j *job, spec *jobfile.Spec) {
	wasActive := j.active()
	j.spec = spec
	for _, in := range j.live() {
		again := in.state.active() || in.pending || in.restartDue || spec.AutoStart
		in.stop(s, whyFileChanged)
		if again {
			in.requestStart()
		}
	}
	s.resize(j, spec.AutoStart || wasActive)
	s.log.Info("job changed; restarting it", "job", j.name)
	s.publishFile(j.name, FileUpdated, nil)
}

func (s *Supervisor) resize(j *job, startNew bool) {
	for _, in := range j.resize(s.now()) {
		if startNew {
			in.requestStart()
		}
	}
	for _, in := range j.insts {
		if in.retire {
			in.stop(s, whyRetired)
		}
	}
}

// Settled waits until the target's instances (every job's for "all" or "")
// have reached the outcome of the last reload: old processes stopped, new
// ones RUNNING or failed to start, a removed job forgotten. Reload itself
// only sets that in motion, so that a reload on SIGHUP or a file change
// never waits; a client that asked for the reload waits here.
func (s *Supervisor) Settled(ctx context.Context, target string) error {
	return s.await(ctx, func() error { return nil }, func() bool {
		if target == "" || target == All {
			for _, j := range s.jobs {
				if !s.jobSettled(j) {
					return false
				}
			}
			return true
		}
		j := s.jobs[target]
		return j == nil || s.jobSettled(j)
	}, func() error { return nil })
}

// jobSettled reports whether no instance of j is on its way somewhere.
func (s *Supervisor) jobSettled(j *job) bool {
	if j.removed || j.stopAfterDependents {
		return false
	}
	for _, in := range j.insts {
		switch {
		case in.retire, in.restartDue, in.waitState() == Starting, in.state == Stopping:
			return false
		case in.pending && j.spec != nil && s.dependencyFailure(j) == "":
			return false
		}
	}
	return true
}
