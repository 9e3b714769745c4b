package jobs

import (
	"context"
	"time"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// ProcessStatus is the state of one instance, as the status command shows
// it. docs/protocol.md documents the JSON.
type ProcessStatus struct {
	Name     string    `json:"name"`             // NAME:N
	Pid      int       `json:"pid"`              // 0 when no process runs
	State    string    `json:"state"`            // STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL
	Since    time.Time `json:"since"`            // when it entered State
	Restarts int       `json:"restarts"`         // automatic restarts so far
	ExitCode *int      `json:"exit_code"`        // how its last process ended (128+n if killed by signal n); null if none has
	Signal   string    `json:"signal,omitempty"` // the signal that killed its last process
	Detail   string    `json:"detail,omitempty"` // why it is in State
}

// JobStatus is the state of one job and its instances.
type JobStatus struct {
	Name      string          `json:"name"`
	State     string          `json:"state"`           // see jobState; INVALID when the file never was valid
	AutoStart bool            `json:"autostart"`       // from the job file
	Critical  bool            `json:"critical"`        // from the job file
	Healthy   bool            `json:"healthy"`         // in the state its settings ask for
	Error     string          `json:"error,omitempty"` // why the job file on disk is not in use
	Processes []ProcessStatus `json:"processes"`       // one per instance, by index
}

// StateInvalid is the state of a job whose file has never been valid.
const StateInvalid = "INVALID"

// Status returns the status of the target ("" or "all" for every job, NAME,
// or NAME:N).
func (s *Supervisor) Status(ctx context.Context, target string) ([]JobStatus, error) {
	var out []JobStatus
	var resolveErr error
	err := s.call(func() {
		if target == "" || target == All {
			for _, j := range s.allJobs() {
				out = append(out, jobStatus(j, j.live()))
			}
			return
		}
		name, _, _ := cutInstance(target)
		if j := s.jobs[name]; j != nil && j.spec == nil {
			out = append(out, jobStatus(j, nil))
			return
		}
		ins, err := s.find(target, true)
		if err != nil {
			resolveErr = err
			return
		}
		out = append(out, jobStatus(ins[0].job, ins))
	})
	if err != nil {
		return nil, err
	}
	return out, resolveErr
}

func jobStatus(j *job, ins []*instance) JobStatus {
	st := JobStatus{Name: j.name, State: StateInvalid, Processes: []ProcessStatus{}}
	if j.fileErr != nil {
		st.Error = j.fileErr.Error()
	}
	if j.spec == nil {
		return st
	}
	st.AutoStart, st.Critical = j.spec.AutoStart, j.spec.Critical
	st.State = jobState(ins)
	st.Healthy = true
	for _, in := range ins {
		st.Processes = append(st.Processes, processStatus(in))
		if !in.healthy() {
			st.Healthy = false
		}
	}
	return st
}

func processStatus(in *instance) ProcessStatus {
	ps := ProcessStatus{
		Name: in.name, Pid: in.pid, State: in.state.String(), Since: in.since.UTC(),
		Restarts: in.restarts, Detail: in.detail,
	}
	if in.exit != nil {
		code := in.exit.code
		ps.ExitCode = &code
		if in.exit.signal != 0 {
			ps.Signal = jobfile.SignalName(in.exit.signal)
		}
	}
	return ps
}

// jobState sums up a job's instances: their common state when they agree,
// else the first state in this list that one of them is in.
var statePriority = []State{Fatal, Backoff, Exited, Stopping, Starting, Stopped, Running}

func jobState(ins []*instance) string {
	if len(ins) == 0 {
		return Stopped.String()
	}
	for _, s := range statePriority {
		for _, in := range ins {
			if in.state == s {
				return s.String()
			}
		}
	}
	return ins[0].state.String()
}

// healthy reports whether the instance is where its settings want it:
// running, or (for a job that is not started automatically) not failing,
// or finished with an expected exit code and no restart due.
func (in *instance) healthy() bool {
	switch in.state {
	case Running:
		return true
	case Exited:
		return in.expected() || !in.job.spec.AutoStart
	case Stopped:
		return !in.job.spec.AutoStart && !in.pending
	}
	return false
}
