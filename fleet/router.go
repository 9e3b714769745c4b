package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs"
)

// Router is a manager's control handler: a request whose job is AGENT/JOB
// (or AGENT/JOB:N, AGENT/all) runs on that agent; status and list of every
// job add the agents' jobs to the manager's own; agents lists the agents;
// everything else is Local's. It serves the control port and the live
// link alike, so that both reach the agents through the same operations.
type Router struct {
	Local   ctlproto.Handler
	Manager *Manager
}

// ServeCtl answers one request.
func (r *Router) ServeCtl(ctx context.Context, req *ctlproto.Request) *ctlproto.Response {
	if req.Command == ctlproto.CmdAgents {
		return r.agents()
	}
	if agent, job, ok := strings.Cut(req.Job, "/"); ok {
		if req.Command == ctlproto.CmdAttach {
			return errNoRemoteAttach(req.Job)
		}
		return r.remote(ctx, req, agent, job)
	}
	switch {
	case req.Command == ctlproto.CmdStatus && (req.Job == "" || req.Job == jobs.All):
		return r.status(ctx, req)
	case req.Command == ctlproto.CmdList:
		return r.list(ctx, req)
	}
	return r.Local.ServeCtl(ctx, req)
}

// remote runs req on agent for its job there.
func (r *Router) remote(ctx context.Context, req *ctlproto.Request, agent, job string) *ctlproto.Response {
	if err := ValidID(agent); err != nil {
		return ctlproto.Failf("%s %s: %v", req.Command, req.Job, err)
	}
	if job == "" {
		return ctlproto.Failf("%s %s: want AGENT/JOB, AGENT/JOB:N or AGENT/all", req.Command, req.Job)
	}
	resp, err := r.Manager.Do(ctx, agent, &ctlproto.Request{Command: req.Command, Job: job, Data: req.Data}, nil)
	if err != nil {
		return ctlproto.Fail(err)
	}
	switch resp.Kind {
	case ctlproto.KindFile:
		resp.Job = req.Job
	case ctlproto.KindStatus:
		data, err := rewriteStatus(agent, resp.Data)
		if err != nil {
			return ctlproto.Failf("%s %s: the agent's status: %v", req.Command, req.Job, err)
		}
		resp.Data = data
	case ctlproto.KindList:
		names, err := ctlproto.DecodeJobList(resp.Data)
		if err != nil {
			return ctlproto.Failf("%s %s: the agent's list: %v", req.Command, req.Job, err)
		}
		for i := range names {
			names[i] = agent + "/" + names[i]
		}
		resp.Data = ctlproto.EncodeJobList(names)
	}
	return resp
}

// rewriteStatus gives an agent's status JSON (one job, or {"jobs":[...]})
// the manager's names.
func rewriteStatus(agent string, data []byte) ([]byte, error) {
	var all struct {
		Jobs *[]jobs.JobStatus `json:"jobs"`
	}
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, err
	}
	if all.Jobs == nil {
		var one jobs.JobStatus
		if err := json.Unmarshal(data, &one); err != nil {
			return nil, err
		}
		rewrite(agent, &one)
		return json.Marshal(AgentJobStatus{Agent: agent, JobStatus: one})
	}
	list := make([]AgentJobStatus, len(*all.Jobs))
	for i, st := range *all.Jobs {
		rewrite(agent, &st)
		list[i] = AgentJobStatus{Agent: agent, JobStatus: st}
	}
	return json.Marshal(struct {
		Jobs []AgentJobStatus `json:"jobs"`
	}{list})
}

// status is the manager's own jobs followed by every agent's, as they
// pushed them: no agent is asked, so it takes no round trip.
func (r *Router) status(ctx context.Context, req *ctlproto.Request) *ctlproto.Response {
	resp := r.Local.ServeCtl(ctx, req)
	if resp.Kind != ctlproto.KindStatus {
		return resp
	}
	var local struct {
		Jobs []json.RawMessage `json:"jobs"`
	}
	if err := json.Unmarshal(resp.Data, &local); err != nil {
		return ctlproto.Failf("status: %v", err)
	}
	agents, n := r.Manager.AppendJobs(nil)
	buf := make([]byte, 0, len(resp.Data)+len(agents)+16)
	buf = append(buf, `{"jobs":[`...)
	for i, j := range local.Jobs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, j...)
	}
	if len(local.Jobs) > 0 && n > 0 {
		buf = append(buf, ',')
	}
	buf = append(buf, agents...)
	return ctlproto.Status(append(buf, "]}"...))
}

// list is the manager's job names followed by AGENT/JOB for every job of
// every agent.
func (r *Router) list(ctx context.Context, req *ctlproto.Request) *ctlproto.Response {
	resp := r.Local.ServeCtl(ctx, req)
	if resp.Kind != ctlproto.KindList {
		return resp
	}
	names, err := ctlproto.DecodeJobList(resp.Data)
	if err != nil {
		return ctlproto.Failf("list: %v", err)
	}
	return ctlproto.List(ctlproto.EncodeJobList(append(names, r.Manager.JobNames()...)))
}

// agents answers the agents command: status JSON {"agents":[...]}.
func (r *Router) agents() *ctlproto.Response {
	data, err := json.Marshal(struct {
		Agents []AgentInfo `json:"agents"`
	}{r.Manager.Agents()})
	if err != nil {
		return ctlproto.Fail(fmt.Errorf("agents: %w", err))
	}
	return ctlproto.Status(data)
}

// errNoRemoteAttach refuses an attach to an agent's job: a session is a
// stream both ways, which the fleet link's commands and results are not.
func errNoRemoteAttach(job string) *ctlproto.Response {
	return ctlproto.Failf("attach %s: a session does not travel over the fleet link: attach through the agent's own control port", job)
}
