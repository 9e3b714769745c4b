package fleet

import (
	"context"
	"fmt"
	"testing"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/fleet/fleetpb"
)

// managerWith is a manager that knows n connected agents of 2 jobs each,
// as their JobState made it, without connections.
func managerWith(b *testing.B, n int) *Manager {
	m := &Manager{}
	m.initLocked()
	for i := range n {
		id := fmt.Sprintf("agent-%04d", i)
		rec := &agentRecord{id: id, state: StateConnected, jobs: map[string]*agentJob{}}
		s := &session{m: m, rec: rec}
		rec.sess = s
		m.agents[id] = rec
		for _, name := range []string{"web", "worker"} {
			status := fmt.Sprintf(`{"name":%q,"state":"RUNNING","autostart":true,"critical":false,"healthy":true,"processes":[{"name":"%s:0","pid":7,"state":"RUNNING","since":"2026-12-04T00:00:00Z","restarts":0,"exit_code":null}]}`, name, name)
			if err := m.jobState(s, &fleetpb.JobState{Jobs: []*fleetpb.JobStatus{{Name: name, Status: status}}}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return m
}

// BenchmarkFleetStatus is a manager's status of every job with 1,000
// agents of 2 jobs, as the control port answers it (the reply encoded).
func BenchmarkFleetStatus(b *testing.B) {
	m := managerWith(b, 1000)
	local := ctlproto.HandlerFunc(func(context.Context, *ctlproto.Request) *ctlproto.Response {
		return ctlproto.Status([]byte(`{"jobs":[]}`))
	})
	r := &Router{Local: local, Manager: m}
	req := &ctlproto.Request{Command: ctlproto.CmdStatus}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		resp := r.ServeCtl(context.Background(), req)
		buf = ctlproto.AppendResponse(buf[:0], resp)
	}
	b.ReportMetric(float64(len(buf)), "reply-bytes")
}
