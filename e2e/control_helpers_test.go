package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// jobStatus is a job in the status JSON (docs/protocol.md).
type jobStatus struct {
	Name      string          `json:"name"`
	State     string          `json:"state"`
	AutoStart bool            `json:"autostart"`
	Healthy   bool            `json:"healthy"`
	Error     string          `json:"error"`
	Processes []processStatus `json:"processes"`
}

// processStatus is a process in the status JSON.
type processStatus struct {
	Name     string    `json:"name"`
	Pid      int       `json:"pid"`
	State    string    `json:"state"`
	Since    time.Time `json:"since"`
	Restarts int       `json:"restarts"`
	ExitCode *int      `json:"exit_code"`
	Signal   string    `json:"signal"`
	Detail   string    `json:"detail"`
	// Readiness and health:
	Ready          string `json:"ready"`
	Health         string `json:"health"`
	HealthFailures int    `json:"health_failures"`
	CheckError     string `json:"check_error"`
	NotifyStatus   string `json:"notify_status"`
}

// request sends one control request to the daemon and returns the reply.
func (d *daemon) request(cmd ctlproto.Command, job string, data []byte) *ctlproto.Response {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ctlproto.Dial(ctx, d.addr, "")
	require.NoError(d.t, err)
	defer c.Close()
	resp, err := c.Do(ctx, &ctlproto.Request{Command: cmd, Job: job, Data: data})
	require.NoError(d.t, err)
	return resp
}

// status returns the status of every job, by name.
func (d *daemon) status() map[string]jobStatus {
	d.t.Helper()
	resp := d.request(ctlproto.CmdStatus, "", nil)
	require.Equal(d.t, ctlproto.KindStatus, resp.Kind, "status: %s", resp.Error)
	var all struct {
		Jobs []jobStatus `json:"jobs"`
	}
	require.NoError(d.t, json.Unmarshal(resp.Data, &all))
	out := map[string]jobStatus{}
	for _, j := range all.Jobs {
		out[j.Name] = j
	}
	return out
}

// states returns the state of each process of job, in instance order.
func (d *daemon) states(job string) []string {
	var out []string
	for _, p := range d.status()[job].Processes {
		out = append(out, p.State)
	}
	return out
}

// awaitStates waits until the processes of job are in the states given.
func (d *daemon) awaitStates(job string, timeout time.Duration, want ...string) jobStatus {
	d.t.Helper()
	var st jobStatus
	eventually(d.t, timeout, func() bool {
		st = d.status()[job]
		if len(st.Processes) != len(want) {
			return false
		}
		for i, p := range st.Processes {
			if p.State != want[i] {
				return false
			}
		}
		return true
	}, "job %s: want %v, have %+v", job, want, &st)
	return st
}

// ctl runs taskmasterctl against the daemon and returns its output and
// exit code.
func (d *daemon) ctl(args ...string) (stdout, stderr string, code int) {
	d.t.Helper()
	cmd := exec.Command(bin.taskmasterctl, append([]string{"-addr", d.addr}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else {
		require.NoError(d.t, err)
	}
	return out.String(), errb.String(), code
}
