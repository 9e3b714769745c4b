package jobs

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/taskmaster/taskmaster/jobs/output"
)

// Target "all" names every job.
const All = "all"

// resolve returns the instances a target names: "all", "NAME" or "NAME:N".
// A job whose file was removed is not found: it only waits to be forgotten.
func (s *Supervisor) resolve(target string) ([]*instance, error) {
	return s.find(target, false)
}

// find is resolve that, with removed, also finds removed jobs (for status,
// which shows them until they have stopped).
func (s *Supervisor) find(target string, removed bool) ([]*instance, error) {
	if target == All {
		var out []*instance
		for _, j := range s.allJobs() {
			if j.spec != nil && (removed || !j.removed) {
				out = append(out, j.live()...)
			}
		}
		return out, nil
	}
	name, idx, hasIdx := cutInstance(target)
	j := s.jobs[name]
	if j == nil || (j.removed && !removed) {
		return nil, fmt.Errorf("%w: %q", ErrNoSuchJob, name)
	}
	if j.spec == nil {
		return nil, fmt.Errorf("%w: job %q: %v", ErrNoValidFile, name, j.fileErr)
	}
	if !hasIdx {
		return j.live(), nil
	}
	n, err := strconv.Atoi(idx)
	in := j.instance(n)
	if err != nil || in == nil {
		return nil, fmt.Errorf("%w: %q (job %s has instances %s:0 to %s:%d)", ErrNoSuchJob, target, name, name, name, j.spec.NumProcs-1)
	}
	return []*instance{in}, nil
}

// jobsOf returns the distinct jobs of instances, in order.
func jobsOf(ins []*instance) []*job {
	var out []*job
	for _, in := range ins {
		if !slices.Contains(out, in.job) {
			out = append(out, in.job)
		}
	}
	return out
}

// Start starts the target's instances (and the jobs they depend on) and
// waits until each is RUNNING or has failed to start. It returns
// ErrRedundant when all of them already run.
func (s *Supervisor) Start(ctx context.Context, target string) error {
	var ins []*instance
	return s.await(ctx, func() error {
		var err error
		if ins, err = s.resolve(target); err != nil {
			return err
		}
		return s.requestStarts(ins)
	}, func() bool { return s.startsSettled(ins) }, func() error { return s.startOutcome(ins) })
}

// Repair brings the target back to its configured state without touching
// healthy processes: FATAL and BACKOFF instances get fresh retry counters and
// start now, and stopped or exited instances of autostart jobs start.
func (s *Supervisor) Repair(ctx context.Context, target string) error {
	var ins []*instance
	return s.await(ctx, func() error {
		all, err := s.resolve(target)
		if err != nil {
			return err
		}
		for _, in := range all {
			broken := in.state == Fatal || in.state == Backoff
			missing := (in.state == Stopped || in.state == Exited) && in.job.spec.AutoStart && !in.pending
			if broken || missing {
				in.failures = 0
				ins = append(ins, in)
			}
		}
		if len(ins) == 0 {
			return ErrRedundant
		}
		return s.requestStarts(ins)
	}, func() bool { return s.startsSettled(ins) }, func() error { return s.startOutcome(ins) })
}

func (s *Supervisor) requestStarts(ins []*instance) error {
	if s.shutting {
		return ErrShuttingDown
	}
	any := false
	for _, in := range ins {
		if in.requestStart() {
			any = true
		}
	}
	if !any {
		return ErrRedundant
	}
	for _, j := range jobsOf(ins) {
		s.startDependencies(j, nil)
	}
	return nil
}

// startDependencies asks for every job j depends on, transitively, to
// start, as docker compose does for a service's depends_on.
func (s *Supervisor) startDependencies(j *job, seen []*job) {
	for _, name := range j.spec.DependsOn {
		dep := s.jobs[name]
		if dep == nil || dep.spec == nil || slices.Contains(seen, dep) {
			continue
		}
		for _, in := range dep.live() {
			if in.state != Running && in.state != Starting && !in.pending && !in.restartDue {
				in.requestStart()
			}
		}
		s.startDependencies(dep, append(seen, dep))
	}
}

// startsSettled reports whether every instance has reached the outcome of
// its start: it runs, or it failed, or it waits for a dependency that failed.
func (s *Supervisor) startsSettled(ins []*instance) bool {
	for _, in := range ins {
		switch {
		case in.restartDue, in.waitState() == Starting, in.state == Stopping:
			return false
		case in.pending && s.dependencyFailure(in.job) == "":
			return false
		}
	}
	return true
}

func (s *Supervisor) startOutcome(ins []*instance) error {
	var errs []error
	for _, in := range ins {
		switch {
		case in.pending:
			errs = append(errs, fmt.Errorf("%s: %s", in.name, s.dependencyFailure(in.job)))
		case in.state == Fatal || in.state == Backoff:
			errs = append(errs, fmt.Errorf("%s: %s: %s", in.name, in.state, in.detail))
		case in.state == Stopped:
			errs = append(errs, fmt.Errorf("%s: stopped before it started", in.name))
		}
	}
	return errors.Join(errs...)
}

// Stop stops the target's instances and waits until their process groups
// are gone, with what earlier processes of theirs left behind. Stopping
// "all" honours depends_on: a job stops only after the jobs that depend on
// it have stopped. It returns ErrRedundant when nothing was running.
func (s *Supervisor) Stop(ctx context.Context, target string) error {
	var ins []*instance
	var gens map[*instance]uint64
	return s.await(ctx, func() error {
		var err error
		if ins, err = s.resolve(target); err != nil {
			return err
		}
		gens = generations(ins)
		return s.stopInstances(ins, target == All)
	}, func() bool { return stopsSettled(gens) && !s.leftoversOf(ins) }, func() error { return nil })
}

func (s *Supervisor) stopInstances(ins []*instance, ordered bool) error {
	any := false
	for _, in := range ins {
		if in.state.hasProcess() || in.state == Backoff || in.pending || in.restartDue {
			any = true
		}
	}
	if !any {
		return ErrRedundant
	}
	if ordered {
		for _, j := range jobsOf(ins) {
			j.stopAfterDependents, j.stopReason = true, whyStopAll
		}
		return nil
	}
	for _, in := range ins {
		in.stop(s, whyStopRequest)
	}
	return nil
}

// generations records which process each instance has now, so that a wait
// for them to end is not fooled by the next ones: a start from another
// client may follow a stop at once.
func generations(ins []*instance) map[*instance]uint64 {
	gens := make(map[*instance]uint64, len(ins))
	for _, in := range ins {
		gens[in] = in.gen
	}
	return gens
}

// stopsSettled reports whether the processes the instances had when a stop
// was asked for are gone.
func stopsSettled(gens map[*instance]uint64) bool {
	for in, gen := range gens {
		if in.job.forgotten {
			continue
		}
		if in.job.stopAfterDependents || (in.state.hasProcess() && in.gen == gen) {
			return false
		}
	}
	return true
}

// Kill sends SIGKILL to the target's process groups at once, and to what
// earlier processes of theirs left behind, and waits until they are gone.
// It returns ErrRedundant when nothing was running.
func (s *Supervisor) Kill(ctx context.Context, target string) error {
	var ins []*instance
	var gens map[*instance]uint64
	return s.await(ctx, func() error {
		var err error
		if ins, err = s.resolve(target); err != nil {
			return err
		}
		gens = generations(ins)
		any := false
		for _, in := range ins {
			if in.kill(s, whyKillRequest) {
				any = true
			}
		}
		if !any {
			return ErrRedundant
		}
		s.killLeftoversOf(ins, "on request")
		return nil
	}, func() bool { return stopsSettled(gens) && !s.leftoversOf(ins) }, func() error { return nil })
}

// Wait waits until every instance of target is in state.
func (s *Supervisor) Wait(ctx context.Context, target string, state State) error {
	var ins []*instance
	return s.await(ctx, func() error {
		var err error
		ins, err = s.resolve(target)
		return err
	}, func() bool {
		for _, in := range ins {
			if in.waitState() != state {
				return false
			}
		}
		return true
	}, func() error { return nil })
}

// Forward sends sig to the process groups of every job that asks for it
// (forwardsignals).
func (s *Supervisor) Forward(ctx context.Context, sig syscall.Signal) error {
	return s.call(func() {
		for _, j := range s.allJobs() {
			if j.spec == nil || !slices.Contains(j.spec.ForwardSignals, sig) {
				continue
			}
			for _, in := range j.insts {
				if in.state.hasProcess() {
					s.signalGroup(in.pgid, sig)
				}
			}
		}
	})
}

// Names returns the names of all jobs, sorted.
func (s *Supervisor) Names(ctx context.Context) ([]string, error) {
	var names []string
	err := s.call(func() {
		for _, j := range s.allJobs() {
			names = append(names, j.name)
		}
	})
	return names, err
}

// allJobs returns the jobs sorted by name, so everything that walks them
// does so in a repeatable order. The list is kept until a job is added or
// deleted (setJob, deleteJob): settle walks it after every event, and
// sorting hundreds of jobs each time was most of what a busy supervisor
// (hundreds of health checks a second) spent. Callers must not change it.
func (s *Supervisor) allJobs() []*job {
	if s.sortedJobs == nil {
		out := make([]*job, 0, len(s.jobs))
		for _, j := range s.jobs {
			out = append(out, j)
		}
		slices.SortFunc(out, func(a, b *job) int { return strings.Compare(a.name, b.name) })
		s.sortedJobs = out
	}
	return s.sortedJobs
}

// setJob adds job j, named name.
func (s *Supervisor) setJob(name string, j *job) {
	s.jobs[name] = j
	s.sortedJobs = nil
}

// deleteJob forgets the job named name.
func (s *Supervisor) deleteJob(name string) {
	delete(s.jobs, name)
	s.sortedJobs = nil
}

// cutInstance splits "NAME:N" into its job name and instance number.
func cutInstance(target string) (name, index string, hasIndex bool) {
	return strings.Cut(target, ":")
}

// Output returns the ring that keeps the recent output of target: NAME:N,
// or NAME when the job has one instance.
func (s *Supervisor) Output(ctx context.Context, target string) (*output.Ring, error) {
	var ring *output.Ring
	var resolveErr error
	err := s.call(func() {
		ins, err := s.resolve(target)
		switch {
		case err != nil:
			resolveErr = err
		case len(ins) != 1:
			resolveErr = fmt.Errorf("job %s has %d instances: name one, as in %s:0", target, len(ins), target)
		default:
			ring = ins[0].ring
		}
	})
	if err != nil {
		return nil, err
	}
	return ring, resolveErr
}
