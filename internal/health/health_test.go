package health

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJobOK(t *testing.T) {
	for _, tt := range []struct {
		name string
		job  Job
		want bool
	}{
		{"healthy autostart job", Job{Healthy: true, AutoStart: true}, true},
		{"failing autostart job", Job{AutoStart: true}, false},
		{"job started on request only, not where it should be", Job{}, true},
		{"file not in use", Job{FileError: "bad", Healthy: true, AutoStart: true}, false},
		{"file not in use, manual job", Job{FileError: "bad"}, false},
		{"unhealthy instance", Job{Healthy: false, AutoStart: true, Unhealthy: true}, false},
		{"unhealthy instance of a job started on request", Job{Unhealthy: true}, false},
		{"critical job not where it should be", Job{Critical: true}, false},
		{"critical job where it should be", Job{Critical: true, Healthy: true}, true},
	} {
		require.Equal(t, tt.want, JobOK(tt.job), tt.name)
	}
}
