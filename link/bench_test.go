package link

import (
	"testing"
	"time"

	"github.com/taskmaster/taskmaster/internal/jsonx/jsonxbench"
	"github.com/taskmaster/taskmaster/jobs"
)

// BenchmarkJobUpdateEncode compares the two JSON libraries on the data of
// a job_update_event, which the event cache encodes once for every client.
func BenchmarkJobUpdateEncode(b *testing.B) {
	now := time.Date(2026, 12, 5, 6, 0, 0, 123456789, time.UTC)
	code := 1
	ev := &jobs.Event{Kind: jobs.InstanceChanged, Time: now, Instance: jobs.InstanceEvent{Job: "loop", Index: 17,
		From: "RUNNING", Process: jobs.ProcessStatus{Name: "loop:17", State: "BACKOFF", Since: now,
			ExitCode: &code, Restarts: 42, Detail: "exited with code 1"}}}
	ss := &session{}
	_, v := ss.encodeEvent(ev)
	jsonxbench.Marshal(b, v)
}
