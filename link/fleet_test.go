package link

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs"
)

// fakeFleet is a fleet manager's agents' jobs, changed by the test.
type fakeFleet struct {
	mu      sync.Mutex
	jobs    []jobs.JobStatus
	changed chan struct{}
}

func newFakeFleet(js ...jobs.JobStatus) *fakeFleet {
	return &fakeFleet{jobs: js, changed: make(chan struct{})}
}

func (f *fakeFleet) AgentJobs() []jobs.JobStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]jobs.JobStatus{}, f.jobs...)
}

func (f *fakeFleet) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *fakeFleet) set(js ...jobs.JobStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.jobs = js
	close(f.changed)
	f.changed = make(chan struct{})
}

func agentJob(name, state string) jobs.JobStatus {
	return jobs.JobStatus{Name: name, State: state, Healthy: true, Processes: []jobs.ProcessStatus{
		{Name: name + ":0", Pid: 7, State: state, Since: time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)},
	}}
}

// On a fleet manager, the live link lists the agents' jobs beside its own
// and reports their changes as events.
func TestFleetJobsAreListedAndReported(t *testing.T) {
	w := newWorld(t, "", map[string]string{"own": `{"cmd":"/bin/own","autostart":true,"starttime":0}`})
	f := newFakeFleet(agentJob("web-1/nginx", "RUNNING"))
	w.srv.Fleet = f
	cl := w.register("")

	cl.send("list_jobs_request", struct{}{})
	list := decodeData[listJobsData](t, cl.until("list_jobs_response"))
	var names []string
	for _, j := range list.Jobs {
		names = append(names, j.Name)
	}
	assert.Equal(t, []string{"own", "web-1/nginx"}, names)
	require.Len(t, list.Instances, 2)
	assert.Equal(t, "web-1/nginx:0", list.Instances[1].Instance)
	assert.Equal(t, "web-1/nginx", list.Instances[1].Job)

	// An instance of an agent changes state: job_update_event.
	f.set(agentJob("web-1/nginx", "STOPPED"))
	up := decodeData[instanceData](t, cl.until(TypeJobUpdate))
	assert.Equal(t, "web-1/nginx:0", up.Instance)
	assert.Equal(t, "STOPPED", up.State)
	assert.Equal(t, "RUNNING", up.From)

	// A job comes, one goes: job_file_event, so that the dashboard lists
	// the jobs again.
	f.set(agentJob("web-2/nginx", "RUNNING"))
	seen := map[string]string{}
	for range 2 {
		fe := decodeData[jobFileData](t, cl.until(TypeJobFile))
		seen[fe.Job] = fe.Change
	}
	assert.Equal(t, map[string]string{"web-2/nginx": jobs.FileAdded, "web-1/nginx": jobs.FileRemoved}, seen)
}
