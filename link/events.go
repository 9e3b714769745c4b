package link

import (
	"strconv"
	"strings"
	"time"

	"github.com/taskmaster/taskmaster/jobs"
)

// instanceData is one instance as job_update_event and list_jobs_response
// carry it.
type instanceData struct {
	Job      string    `json:"job"`
	Instance string    `json:"instance"` // NAME:N
	Index    int       `json:"index"`
	State    string    `json:"state"`
	From     string    `json:"from,omitempty"` // job_update_event: the state it left
	Pid      int       `json:"pid"`
	Since    time.Time `json:"since"`
	Started  time.Time `json:"started,omitzero"`
	Uptime   *float64  `json:"uptime,omitempty"` // list_jobs_response: seconds since its process started
	ExitCode *int      `json:"exit_code"`
	Signal   string    `json:"signal,omitempty"`
	Restarts int       `json:"restarts"`
	Detail   string    `json:"detail,omitempty"`
	Time     time.Time `json:"time,omitzero"` // job_update_event: when it happened
	// Readiness and health, as status has them (docs/protocol.md):
	Ready          string `json:"ready,omitempty"`
	Health         string `json:"health,omitempty"`
	HealthFailures int    `json:"health_failures,omitempty"`
	CheckError     string `json:"check_error,omitempty"`
	NotifyStatus   string `json:"notify_status,omitempty"`
}

// jobSummary is one job as list_jobs_response carries it.
type jobSummary struct {
	Name      string `json:"name"`
	State     string `json:"state"`
	AutoStart bool   `json:"autostart"`
	Critical  bool   `json:"critical"`
	Healthy   bool   `json:"healthy"`
	Error     string `json:"error,omitempty"`
	Instances int    `json:"instances"`
}

// listJobsData is the data of list_jobs_response and jobs_snapshot_event.
type listJobsData struct {
	Seq       int64          `json:"seq,omitempty"` // list_jobs_response: the request's
	Jobs      []jobSummary   `json:"jobs"`
	Instances []instanceData `json:"instances"`
	Lost      int            `json:"lost,omitempty"` // jobs_snapshot_event: the events_lost_event's behind
}

// eventsLostData is the data of events_lost_event.
type eventsLostData struct {
	Behind int `json:"behind"` // the client fell more than this many events behind
}

// jobFileData is the data of job_file_event.
type jobFileData struct {
	Job    string    `json:"job"`
	Change string    `json:"change"`
	Error  string    `json:"error,omitempty"`
	Time   time.Time `json:"time"`
}

// shutdownData is the data of shutdown_event.
type shutdownData struct {
	Time time.Time `json:"time"`
}

// encodeEvent returns the type and data of the message for ev, or "" for
// an event the client is not told of.
func (ss *session) encodeEvent(ev *jobs.Event) (string, any) {
	switch ev.Kind {
	case jobs.InstanceChanged:
		d := instance(ev.Instance.Job, ev.Instance.Index, ev.Instance.Process)
		d.From, d.Time = ev.Instance.From, ev.Time.UTC()
		return TypeJobUpdate, d
	case jobs.FileChanged:
		return TypeJobFile, jobFileData{Job: ev.File.Job, Change: ev.File.Change, Error: ev.File.Error, Time: ev.Time.UTC()}
	case jobs.ShuttingDown:
		return TypeShutdown, shutdownData{Time: ev.Time.UTC()}
	case jobs.Snapshot:
		tag, ok := ev.Tag.(snapshotTag)
		if !ok {
			return "", nil
		}
		return "list_jobs_response", snapshot(tag.seq, ev.Time, ss.withFleet(ev.Jobs), resyncTag{})
	}
	return "", nil
}

func instance(job string, index int, p jobs.ProcessStatus) instanceData {
	return instanceData{
		Job: job, Instance: p.Name, Index: index, State: p.State, Pid: p.Pid,
		Since: p.Since, Started: p.Started, ExitCode: p.ExitCode, Signal: p.Signal,
		Restarts: p.Restarts, Detail: p.Detail,
		Ready: p.Ready, Health: p.Health, HealthFailures: p.HealthFailures,
		CheckError: p.CheckError, NotifyStatus: p.NotifyStatus,
	}
}

// snapshot is the data of list_jobs_response and jobs_snapshot_event: every
// job, and every instance of every job.
func snapshot(seq int64, now time.Time, st []jobs.JobStatus, tag resyncTag) listJobsData {
	d := listJobsData{Seq: seq, Jobs: []jobSummary{}, Instances: []instanceData{}, Lost: tag.lost}
	for _, j := range st {
		d.Jobs = append(d.Jobs, jobSummary{Name: j.Name, State: j.State, AutoStart: j.AutoStart,
			Critical: j.Critical, Healthy: j.Healthy, Error: j.Error, Instances: len(j.Processes)})
		for _, p := range j.Processes {
			in := instance(j.Name, indexOf(p.Name), p)
			if !p.Started.IsZero() {
				up := now.Sub(p.Started).Round(time.Millisecond).Seconds()
				in.Uptime = &up
			}
			d.Instances = append(d.Instances, in)
		}
	}
	return d
}

// indexOf reads the N of NAME:N.
func indexOf(name string) int {
	n, _ := strconv.Atoi(name[strings.LastIndexByte(name, ':')+1:])
	return n
}
