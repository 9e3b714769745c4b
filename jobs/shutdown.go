package jobs

import (
	"context"
	"slices"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// Shutdown stops every job for good: no more starts or restarts, each job's
// processes get its stop signal (dependents before the jobs they depend on;
// unrelated jobs all at once), and SIGKILL after its stoptime. It returns
// when every process group is gone, leftover groups of ended processes
// included, with the instances that had to be SIGKILLed (for their
// leftovers too), or when ctx ends.
func (s *Supervisor) Shutdown(ctx context.Context) (killed []string, err error) {
	err = s.await(ctx, func() error {
		if !s.shutting {
			s.publish(&Event{Kind: ShuttingDown, Time: s.now()})
		}
		s.shutting = true
		for _, j := range s.jobs {
			for _, in := range j.insts {
				in.pending, in.restartDue = false, false
				if !in.state.hasProcess() {
					in.killed = false // from an earlier, finished stop
				}
				if in.state == Backoff {
					in.stop(s, whyShutdown)
				}
			}
			j.stopAfterDependents, j.stopReason = j.anyProcess(), whyShutdown
		}
		return nil
	}, func() bool {
		for _, j := range s.jobs {
			if !j.settled() || j.stopAfterDependents {
				return false
			}
		}
		return len(s.leftovers) == 0
	}, func() error {
		for _, j := range s.allJobs() {
			for _, in := range j.insts {
				if in.killed {
					killed = append(killed, in.name)
				}
			}
		}
		for _, name := range s.killedLeftovers {
			if !slices.Contains(killed, name) {
				killed = append(killed, name)
			}
		}
		return nil
	})
	return killed, err
}

// KillAll sends SIGKILL to every process group at once: a second signal
// during shutdown skips the rest of the grace period.
func (s *Supervisor) KillAll(ctx context.Context) error {
	return s.call(func() {
		s.shutting = true
		for _, j := range s.jobs {
			j.stopAfterDependents = false
			for _, in := range j.insts {
				in.kill(s, whyHurry)
			}
		}
		s.killAllLeftovers("on a second shutdown signal")
	})
}

// AddCommand adds a job that is not read from a file (the command of
// single-command mode) and starts it, with taskmasterd's own stdin, stdout
// and stderr. Reloads leave it alone.
func (s *Supervisor) AddCommand(ctx context.Context, spec *jobfile.Spec) error {
	return s.call(func() {
		j := newJob(spec.Name, s.now())
		j.pinned, j.interactive = true, true
		s.setJob(spec.Name, j)
		s.load(j, spec)
	})
}
