package control

import (
	"fmt"
	"testing"
	"time"

	"github.com/taskmaster/taskmaster/internal/jsonx/jsonxbench"
	"github.com/taskmaster/taskmaster/jobs"
)

// statusOf200 is the status of one job of 200 running instances, as the
// control section of docs/benchmarks.md asks for it.
func statusOf200() []jobs.JobStatus {
	now := time.Date(2026, 12, 5, 6, 0, 0, 123456789, time.UTC)
	st := jobs.JobStatus{Name: "web", State: "RUNNING", AutoStart: true, Healthy: true}
	for i := range 200 {
		st.Processes = append(st.Processes, jobs.ProcessStatus{Name: fmt.Sprintf("web:%d", i), Pid: 1000 + i,
			State: "RUNNING", Since: now, Started: now})
	}
	return []jobs.JobStatus{st}
}

// BenchmarkStatusEncode compares the two JSON libraries on the reply to
// status with 200 processes, as Handler.status encodes it.
func BenchmarkStatusEncode(b *testing.B) {
	v := struct {
		Jobs []jobs.JobStatus `json:"jobs"`
	}{statusOf200()}
	jsonxbench.Marshal(b, v)
}
