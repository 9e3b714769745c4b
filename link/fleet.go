package link

import (
	"time"

	"github.com/taskmaster/taskmaster/jobs"
)

// FleetJobs are the jobs of a fleet manager's agents (docs/fleet.md): the
// live link of a manager lists them beside its own, named AGENT/JOB, and
// reports their changes, so that its dashboard shows the whole fleet.
// *fleet.Manager is one; link does not import it.
type FleetJobs interface {
	// AgentJobs returns the status of every agent job now.
	AgentJobs() []jobs.JobStatus
	// Changed returns a channel closed at the next change.
	Changed() <-chan struct{}
}

// fleetState is what a session last told its client of the agents' jobs;
// the writer alone uses it.
type fleetState struct {
	jobs      map[string]bool               // job names
	instances map[string]jobs.ProcessStatus // by NAME:N
	changed   <-chan struct{}               // the next change; nil without a fleet
}

// initFleet makes the agents' jobs now what the client knows: it is told
// of their changes from the handshake on.
func (ss *session) initFleet() {
	if f := ss.srv.Fleet; f != nil {
		ss.fleet.changed = f.Changed()
		ss.fleet.remember(f.AgentJobs())
	}
}

// withFleet adds the agents' jobs to a snapshot of the supervisor's, and
// makes them what the client was last told.
func (ss *session) withFleet(st []jobs.JobStatus) []jobs.JobStatus {
	f := ss.srv.Fleet
	if f == nil {
		return st
	}
	ss.fleet.changed = f.Changed() // before reading: a change after it is not missed
	agents := f.AgentJobs()
	ss.fleet.remember(agents)
	return append(append([]jobs.JobStatus{}, st...), agents...)
}

func (fs *fleetState) remember(agents []jobs.JobStatus) {
	fs.jobs = make(map[string]bool, len(agents))
	fs.instances = make(map[string]jobs.ProcessStatus)
	for _, j := range agents {
		fs.jobs[j.Name] = true
		for _, p := range j.Processes {
			fs.instances[p.Name] = p
		}
	}
}

// fleetChanged tells the client what changed among the agents' jobs since
// it was last told: job_file_event for a job that came or went (the
// dashboard lists the jobs again), job_update_event for an instance whose
// state changed. It reports whether the session goes on.
func (ss *session) fleetChanged() bool {
	f := ss.srv.Fleet
	ss.fleet.changed = f.Changed()
	agents := f.AgentJobs()
	now := time.Now().UTC()
	var msgs [][]byte
	seen := make(map[string]bool, len(agents))
	for _, j := range agents {
		seen[j.Name] = true
		if !ss.fleet.jobs[j.Name] {
			msgs = append(msgs, ss.mustEncode(TypeJobFile, jobFileData{Job: j.Name, Change: jobs.FileAdded, Time: now}))
			continue
		}
		for _, p := range j.Processes {
			old, ok := ss.fleet.instances[p.Name]
			if ok && old.State == p.State && old.Pid == p.Pid && old.Restarts == p.Restarts && old.Detail == p.Detail {
				continue
			}
			d := instance(j.Name, indexOf(p.Name), p)
			d.From, d.Time = old.State, now
			msgs = append(msgs, ss.mustEncode(TypeJobUpdate, d))
		}
	}
	for name := range ss.fleet.jobs {
		if !seen[name] {
			msgs = append(msgs, ss.mustEncode(TypeJobFile, jobFileData{Job: name, Change: jobs.FileRemoved, Time: now}))
		}
	}
	ss.fleet.remember(agents)
	for _, b := range msgs {
		if ss.send(b) != nil {
			return false
		}
	}
	return true
}
