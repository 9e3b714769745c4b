package jobs

import (
	"context"
	"time"

	"github.com/taskmaster/taskmaster/internal/health"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// ProcessStatus is the state of one instance, as the status command shows
// it. docs/protocol.md documents the JSON.
type ProcessStatus struct {
	Name     string    `json:"name"`             // NAME:N
	Pid      int       `json:"pid"`              // 0 when no process runs
	State    string    `json:"state"`            // STOPPED, STARTING, RUNNING, BACKOFF, STOPPING, EXITED, FATAL
	Since    time.Time `json:"since"`            // when it entered State
	Started  time.Time `json:"started,omitzero"` // when its process started; absent without a process
	Restarts int       `json:"restarts"`         // automatic restarts so far
	ExitCode *int      `json:"exit_code"`        // how its last process ended (128+n if killed by signal n); null if none has
	Signal   string    `json:"signal,omitempty"` // the signal that killed its last process
	Detail   string    `json:"detail,omitempty"` // why it is in State
	// Readiness and health (jobs.md#ready, #health), absent without checks:
	Ready          string `json:"ready,omitempty"`           // "waiting" (STARTING), "ready" (RUNNING after passing its ready check)
	Health         string `json:"health,omitempty"`          // while RUNNING with a health check: checking, healthy or unhealthy
	HealthFailures int    `json:"health_failures,omitempty"` // health checks failed in a row
	CheckError     string `json:"check_error,omitempty"`     // why its last ready or health check failed (cleared when one passes)
	NotifyStatus   string `json:"notify_status,omitempty"`   // the last STATUS= its process sent (sd_notify)
}

// JobStatus is the state of one job and its instances.
type JobStatus struct {
	Name      string          `json:"name"`
	State     string          `json:"state"`            // see jobState; INVALID when the file never was valid
	AutoStart bool            `json:"autostart"`        // from the job file
	Critical  bool            `json:"critical"`         // from the job file
	Healthy   bool            `json:"healthy"`          // in the state its settings ask for
	Error     string          `json:"error,omitempty"`  // why the job file on disk is not in use
	Ready     string          `json:"ready,omitempty"`  // its ready check: "tcp 127.0.0.1:5432", "notify"; absent without one
	Health    string          `json:"health,omitempty"` // its health check: "http http://127.0.0.1:8080/healthz"; absent without one
	Processes []ProcessStatus `json:"processes"`        // one per instance, by index
}

// Passes reports whether the job passes the health rule of containers
// (package internal/health), as /healthz and the metrics apply it.
func (j JobStatus) Passes() bool {
	unhealthy := false
	for _, p := range j.Processes {
		unhealthy = unhealthy || p.Health == health.Unhealthy
	}
	return health.JobOK(health.Job{FileError: j.Error, Healthy: j.Healthy, AutoStart: j.AutoStart,
		Critical: j.Critical, Unhealthy: unhealthy})
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
			all := s.allJobs()
			out = make([]JobStatus, 0, len(all))
			for _, j := range all {
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
	// Sized once: appending 10 instances one by one allocates room for 31.
	st := JobStatus{Name: j.name, State: StateInvalid, Processes: make([]ProcessStatus, 0, len(ins))}
	if j.fileErr != nil {
		st.Error = j.fileErr.Error()
	}
	if j.spec == nil {
		return st
	}
	st.AutoStart, st.Critical = j.spec.AutoStart, j.spec.Critical
	if r := j.spec.Ready; r != nil {
		st.Ready = r.Target()
	}
	if h := j.spec.Health; h != nil {
		st.Health = h.Target()
	}
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
	state, detail := in.told()
	ps := ProcessStatus{
		Name: in.name, Pid: in.pid, State: state.String(), Since: in.since.UTC(),
		Restarts: in.restarts, Detail: detail,
		Ready: in.readiness(), Health: in.chk.health.String(), HealthFailures: in.chk.failures,
		CheckError: in.chk.lastError, NotifyStatus: in.chk.status,
	}
	if in.pid != 0 {
		ps.Started = in.started.UTC()
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
			if state, _ := in.told(); state == s {
				return s.String()
			}
		}
	}
	state, _ := ins[0].told()
	return state.String()
}

// healthy reports whether the instance is where its settings want it:
// running (and not found unhealthy by its health check), or (for a job
// that is not started automatically) not failing, or finished with an
// expected exit code and no restart due.
func (in *instance) healthy() bool {
	state, _ := in.told()
	switch state {
	case Running:
		return in.chk.health != HealthUnhealthy
	case Exited:
		return in.expected() || !in.job.spec.AutoStart
	case Stopped:
		return !in.job.spec.AutoStart && !in.pending
	}
	return false
}
