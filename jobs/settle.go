package jobs

import (
	"context"
	"log/slog"
	"slices"
)

// settle runs after every event and request: it starts what may start now,
// stops what an ordered stop allows, forgets what is gone, reports critical
// ends and answers the requests whose wait is over.
func (s *Supervisor) settle() {
	for s.startPending() {
	}
	s.stopOrdered()
	s.forget()
	s.reportCritical()
	s.wakeWaiters()
	s.rearmWheel()
}

// startPending spawns pending instances whose dependencies are RUNNING. It
// reports whether it spawned any: a job with starttime 0 is RUNNING at once
// and may let the jobs that depend on it start in turn.
func (s *Supervisor) startPending() bool {
	started := false
	for _, j := range s.allJobs() {
		if !j.mayStart {
			continue
		}
		j.mayStart = false // set again by a start below that makes another pending
		still := false     // an instance is left pending
		for _, in := range j.insts {
			if !in.pending {
				continue
			}
			if in.state.hasProcess() {
				still = true
				continue
			}
			if s.shutting || in.retire || j.removed || j.spec == nil {
				in.pending = false
				continue
			}
			if dep := s.waitingFor(j); dep != "" {
				s.showWaiting(in, dep)
				still = true
				continue
			}
			in.start(s)
			started = true
		}
		if still {
			j.mayStart = true
		}
	}
	return started
}

func (s *Supervisor) showWaiting(in *instance, dep string) {
	detail := "waiting for " + dep
	if in.state == Backoff {
		in.cancelTimer()
	}
	if in.state != Stopped || in.detail != detail {
		in.set(s, Stopped, detail)
	}
}

// waitingFor returns the first dependency of j that is not RUNNING, or "".
func (s *Supervisor) waitingFor(j *job) string {
	for _, name := range j.spec.DependsOn {
		dep := s.jobs[name]
		if dep == nil || !dep.running() {
			return name
		}
	}
	return ""
}

// dependencyFailure says why j's dependencies will not come up without
// help, looking through dependencies of dependencies, or returns "" while
// they still may.
func (s *Supervisor) dependencyFailure(j *job) string {
	return s.dependencyFailureSeen(j, map[*job]bool{j: true})
}

// dependencyFailureSeen is dependencyFailure that looks into each job once.
func (s *Supervisor) dependencyFailureSeen(j *job, seen map[*job]bool) string {
	for _, name := range j.spec.DependsOn {
		dep := s.jobs[name]
		if dep == nil || dep.spec == nil || dep.removed {
			return "waiting for " + name + ", which has no valid job file"
		}
		if seen[dep] {
			continue
		}
		seen[dep] = true
		pending := false
		for _, in := range dep.live() {
			if in.state == Fatal || in.state == Exited || (in.state == Stopped && !in.pending) {
				why := "waiting for " + name + ", which is " + in.state.String()
				if in.state == Fatal {
					why += " (" + in.name + ": " + in.detail + ")" // a deadline says which check
				}
				return why
			}
			pending = pending || in.pending
		}
		if pending {
			if why := s.dependencyFailureSeen(dep, seen); why != "" {
				return "waiting for " + name + ", " + why
			}
		}
	}
	return ""
}

// stopOrdered stops each job of an ordered stop once no job that depends on
// it is still to be stopped or stopping: dependents stop first.
func (s *Supervisor) stopOrdered() {
	for _, j := range s.allJobs() {
		if !j.stopAfterDependents || s.dependentsBusy(j) {
			continue
		}
		j.stopAfterDependents = false
		for _, in := range j.insts {
			in.stop(s, j.stopReason)
		}
	}
}

func (s *Supervisor) dependentsBusy(j *job) bool {
	for _, d := range s.jobs {
		if d.spec == nil || !slices.Contains(d.spec.DependsOn, j.name) {
			continue
		}
		if d.stopAfterDependents || d.anyStopping() {
			return true
		}
	}
	return false
}

func (s *Supervisor) forget() {
	for name, j := range s.jobs {
		j.forgetRetired()
		if j.removed && j.settled() {
			j.forgotten, j.stopAfterDependents = true, false
			s.deleteJob(name)
			s.log.Info("job removed", "job", name)
		}
	}
}

// reportCritical tells of the first instance of a critical job that ended
// for good.
func (s *Supervisor) reportCritical() {
	if s.shutting {
		return
	}
	for _, j := range s.allJobs() {
		if j.spec == nil || !j.spec.Critical || j.criticalSent {
			continue
		}
		for _, in := range j.live() {
			if in.endedForGood() && in.exit != nil {
				j.criticalSent = true
				level := slog.LevelWarn
				if in.exit.code == 0 {
					level = slog.LevelInfo
				}
				s.log.Log(context.Background(), level, "critical job ended", "instance", in.name, "exit_code", in.exit.code, "detail", in.detail)
				select {
				case s.critical <- Critical{Instance: in.name, Code: in.exit.code}:
				default: // the first one decides
				}
				return
			}
		}
	}
}

func (s *Supervisor) wakeWaiters() {
	s.waiters = slices.DeleteFunc(s.waiters, func(w *waiter) bool {
		if w.ctx.Err() != nil {
			return true
		}
		if w.cond() {
			w.reply()
			return true
		}
		return false
	})
}
