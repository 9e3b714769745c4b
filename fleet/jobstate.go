package fleet

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// agentJob is one job of an agent, as the manager lists it: the agent's
// status JSON with the names made AGENT/JOB and AGENT/JOB:N.
type agentJob struct {
	status jobs.JobStatus // names rewritten
	entry  []byte         // its JSON in the merged status (agent connected)
}

// AgentJobStatus is a job of an agent in the manager's status JSON: the
// job's own status, with Agent naming the agent, the names prefixed with
// "AGENT/", and AgentState set when the agent is not connected (the
// state shown is then the last one the agent reported).
type AgentJobStatus struct {
	Agent      string `json:"agent"`
	AgentState string `json:"agent_state,omitempty"`
	jobs.JobStatus
}

// rewrite gives st the manager's names for the jobs of agent.
func rewrite(agent string, st *jobs.JobStatus) {
	st.Name = agent + "/" + st.Name
	for i := range st.Processes {
		st.Processes[i].Name = agent + "/" + st.Processes[i].Name
	}
}

// parseJob reads the status JSON of one job an agent sent.
func parseJob(agent, name string, status []byte) (*agentJob, error) {
	var st jobs.JobStatus
	if err := json.Unmarshal(status, &st); err != nil {
		return nil, fmt.Errorf("protocol error: the status of job %q is not status JSON: %v", name, err)
	}
	if st.Name != name {
		return nil, fmt.Errorf("protocol error: the status of job %q is that of %q", name, st.Name)
	}
	if st.Processes == nil {
		st.Processes = []jobs.ProcessStatus{}
	}
	rewrite(agent, &st)
	entry, err := json.Marshal(AgentJobStatus{Agent: agent, JobStatus: st})
	if err != nil {
		return nil, err
	}
	return &agentJob{status: st, entry: entry}, nil
}

// maxJobStatus bounds the status of one job put together from pieces,
// and the pieces of every status whose last piece has not come, together
// (an agent sends a status's pieces one after the other, so it has one
// unfinished at a time): otherwise beginnings under ever new names would
// fill the manager's memory.
const maxJobStatus = 4 << 20

// maxAgentState bounds the status JSON the manager keeps of one agent: an
// agent that reports more is dropped (a protocol error). Jobs of 4 MiB
// each, MaxAgentJobs of them, would otherwise be 16 GiB.
const maxAgentState = 32 << 20

// piece takes one JobStatus: it returns the whole status once its last
// piece has come.
func (s *session) piece(j *fleetpb.JobStatus) ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prev := s.partial[j.GetName()]
	if len(prev)+len(j.GetStatus()) > maxJobStatus {
		return nil, false, fmt.Errorf("protocol error: the status of job %q is over %d bytes", j.GetName(), maxJobStatus)
	}
	if s.partialSize+len(j.GetStatus()) > maxJobStatus {
		return nil, false, fmt.Errorf("protocol error: unfinished job statuses over %d bytes", maxJobStatus)
	}
	if j.GetMore() {
		if s.partial == nil {
			s.partial = make(map[string][]byte)
		}
		s.partial[j.GetName()] = append(prev, j.GetStatus()...)
		s.partialSize += len(j.GetStatus())
		return nil, false, nil
	}
	delete(s.partial, j.GetName())
	s.partialSize -= len(prev)
	return append(prev, j.GetStatus()...), true, nil
}

// MaxAgentJobs bounds the jobs the manager keeps of one agent: an agent
// that reports more is dropped (a protocol error), not allowed to fill the
// manager's memory.
const MaxAgentJobs = 4096

// jobState applies an agent's JobState.
func (m *Manager) jobState(s *session, js *fleetpb.JobState) error {
	parsed := make(map[string]*agentJob, len(js.GetJobs()))
	for _, j := range js.GetJobs() {
		if err := jobfile.ValidName(j.GetName()); err != nil {
			return fmt.Errorf("protocol error: JobState: %v", err)
		}
		if j.GetRemoved() {
			parsed[j.GetName()] = nil
			continue
		}
		status, whole, err := s.piece(j)
		if err != nil {
			return err
		}
		if !whole {
			continue
		}
		aj, err := parseJob(s.rec.id, j.GetName(), status)
		if err != nil {
			return err
		}
		parsed[j.GetName()] = aj
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.rec.sess != s {
		return nil // an old connection's news
	}
	if js.GetReset_() {
		s.rec.jobs, s.rec.size = make(map[string]*agentJob, len(parsed)), 0
	}
	for name, aj := range parsed {
		if old := s.rec.jobs[name]; old != nil {
			s.rec.size -= len(old.entry)
		}
		if aj == nil {
			delete(s.rec.jobs, name)
		} else {
			s.rec.jobs[name] = aj
			s.rec.size += len(aj.entry)
		}
	}
	m.changedLocked()
	switch {
	case len(s.rec.jobs) > MaxAgentJobs:
		s.rec.jobs, s.rec.size = make(map[string]*agentJob), 0
		return fmt.Errorf("protocol error: more than %d jobs", MaxAgentJobs)
	case s.rec.size > maxAgentState:
		s.rec.jobs, s.rec.size = make(map[string]*agentJob), 0
		return fmt.Errorf("protocol error: job statuses over %d bytes", maxAgentState)
	}
	return nil
}

// AppendJobs appends to dst, comma-separated, the status JSON of every
// job of every agent not gone, by agent and job name: the part of the
// manager's status the agents make. It returns how many it appended. The
// list is made once per change of the agents' jobs: a status between two
// changes copies it.
func (m *Manager) AppendJobs(dst []byte) ([]byte, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	if m.jobsCache == nil {
		m.jobsCache, m.jobsCount = m.buildJobsLocked()
	}
	return append(dst, m.jobsCache...), m.jobsCount
}

// buildJobsLocked makes AppendJobs's list.
func (m *Manager) buildJobsLocked() ([]byte, int) {
	size := 0
	for _, rec := range m.agents {
		for _, j := range rec.jobs {
			size += len(j.entry) + 32 // room for "agent_state" and the comma
		}
	}
	dst := make([]byte, 0, size)
	ids := make([]string, 0, len(m.agents))
	for id := range m.agents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	n := 0
	for _, id := range ids {
		rec := m.agents[id]
		names := make([]string, 0, len(rec.jobs))
		for name := range rec.jobs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = appendEntry(dst, rec, rec.jobs[name])
			n++
		}
	}
	return dst, n
}

func appendEntry(dst []byte, rec *agentRecord, j *agentJob) []byte {
	if rec.state == StateConnected {
		return append(dst, j.entry...)
	}
	b, err := json.Marshal(AgentJobStatus{Agent: rec.id, AgentState: rec.state, JobStatus: j.status})
	if err != nil {
		return append(dst, j.entry...)
	}
	return append(dst, b...)
}

// AgentJobs returns the status of every job of every agent not gone, by
// agent and job, named AGENT/JOB and AGENT/JOB:N: what a manager's live
// link lists beside its own jobs. The jobs of an agent that is not
// connected keep their last known state, and each of their instances
// says so in its detail.
func (m *Manager) AgentJobs() []jobs.JobStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	ids := make([]string, 0, len(m.agents))
	for id := range m.agents {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []jobs.JobStatus
	for _, id := range ids {
		rec := m.agents[id]
		names := make([]string, 0, len(rec.jobs))
		for name := range rec.jobs {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			st := rec.jobs[name].status
			st.Processes = append([]jobs.ProcessStatus{}, st.Processes...)
			if rec.state != StateConnected {
				for i := range st.Processes {
					p := &st.Processes[i]
					p.Detail = joinDetail(fmt.Sprintf("agent %s (%s): last known state", rec.state, rec.reason), p.Detail)
				}
			}
			out = append(out, st)
		}
	}
	return out
}

// JobNames lists AGENT/JOB for every job of every agent not gone.
func (m *Manager) JobNames() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.initLocked()
	var out []string
	for _, rec := range m.agents {
		for _, j := range rec.jobs {
			out = append(out, j.status.Name)
		}
	}
	sort.Strings(out)
	return out
}

// joinDetail joins two parts of a detail, either of which may be empty.
func joinDetail(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
