package jobs

import (
	"slices"
	"strconv"
	"time"

	"github.com/taskmaster/taskmaster/jobs/attach"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/output"
)

// job is one job file and its instances. Only the supervisor goroutine
// touches it.
type job struct {
	name    string
	spec    *jobfile.Spec // the last valid version of the file; nil if there never was one
	fileErr error         // why the file on disk is not used, if it is not
	loaded  time.Time
	insts   []*instance

	stopAfterDependents bool   // an ordered stop waits for jobs that depend on this one
	stopReason          string // who asked for the ordered stop, for the log
	removed             bool   // the file is gone: forget the job once it has stopped
	forgotten           bool   // no longer among the supervisor's jobs
	pinned              bool   // not from a file (single-command mode): reloads leave it alone
	interactive         bool   // its processes get taskmasterd's stdin, stdout and stderr
	criticalSent        bool
	stats               JobStats

	// Hints that spare settle, which runs after every event, a walk of
	// every instance of every job (at 10,000 instances, the walks were a
	// tenth of a spawn's CPU time). Set with what they hint at, cleared
	// by the walk that finds nothing: mayStart whenever an instance is
	// made pending, retiring whenever one is retired.
	mayStart bool
	retiring bool
}

func newJob(name string, now time.Time) *job {
	return &job{name: name, loaded: now}
}

// resize makes the job have spec.NumProcs instances, creating new ones and
// retiring the highest-numbered extra ones. It returns the new instances.
func (j *job) resize(now time.Time) []*instance {
	want := j.spec.NumProcs
	var added []*instance
	live := 0
	for _, in := range j.insts {
		if in.retire {
			continue
		}
		if live >= want {
			in.retire = true
			j.retiring = true
			continue
		}
		live++
	}
	for i := 0; live < want; i++ {
		if j.hasIndex(i) {
			continue
		}
		in := &instance{
			job: j, index: i, name: j.name + ":" + strconv.Itoa(i), spec: j.spec, since: now,
			ring: output.NewRing(output.DefaultRingCapacity), point: attach.NewPoint(),
		}
		j.insts = append(j.insts, in)
		added = append(added, in)
		live++
	}
	slices.SortFunc(j.insts, func(a, b *instance) int { return a.index - b.index })
	return added
}

func (j *job) hasIndex(i int) bool {
	for _, in := range j.insts {
		if in.index == i && !in.retire {
			return true
		}
	}
	return false
}

// instance returns instance i, or nil.
func (j *job) instance(i int) *instance {
	for _, in := range j.insts {
		if in.index == i && !in.retire {
			return in
		}
	}
	return nil
}

// live returns the instances that are not being retired.
func (j *job) live() []*instance {
	var out []*instance
	for _, in := range j.insts {
		if !in.retire {
			out = append(out, in)
		}
	}
	return out
}

// forgetRetired drops retired instances that have no process left.
func (j *job) forgetRetired() {
	if !j.retiring {
		return
	}
	j.retiring = false
	j.insts = slices.DeleteFunc(j.insts, func(in *instance) bool {
		if !in.retire {
			return false
		}
		if in.state.hasProcess() {
			j.retiring = true // still stopping: forgotten by a later settle
			return false
		}
		return true
	})
}

// running reports whether every live instance is RUNNING: what a job that
// depends on this one waits for.
func (j *job) running() bool {
	live := j.live()
	if j.spec == nil || len(live) == 0 {
		return false
	}
	for _, in := range live {
		if in.waitState() != Running {
			return false
		}
	}
	return true
}

// settled reports whether no instance has a process or is trying to get one.
func (j *job) settled() bool {
	for _, in := range j.insts {
		if in.state.hasProcess() || in.state == Backoff || in.pending || in.restartDue {
			return false
		}
	}
	return true
}

// anyStopping reports whether some instance is waiting for its process
// group to end.
func (j *job) anyStopping() bool {
	for _, in := range j.insts {
		if in.state == Stopping {
			return true
		}
	}
	return false
}

// active reports whether some instance runs, tries to, or is about to.
func (j *job) active() bool {
	for _, in := range j.insts {
		if !in.retire && (in.state.active() || in.pending || in.restartDue) {
			return true
		}
	}
	return false
}

// anyProcess reports whether some instance has a process or is about to.
func (j *job) anyProcess() bool {
	for _, in := range j.insts {
		if in.state.hasProcess() || in.state == Backoff {
			return true
		}
	}
	return false
}
