package fleet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/fleet/wire"
)

// Limits of the commands the manager sends.
const (
	// MaxOutput bounds the output of one command put together from its
	// pieces (CommandOutput, then CommandResult): the control client's
	// own limit on a reply.
	MaxOutput = 16 << 20
	// cancelWait is how long a cancelled command's result is awaited.
	cancelWait = 5 * time.Second
)

// commandData is the data of a Command: the job and data of the control
// request it carries, as JSON (data in base64).
type commandData struct {
	Job  string `json:"job,omitempty"`
	Data []byte `json:"data,omitempty"`
}

// session is the manager's side of one agent's connection.
type session struct {
	m   *Manager
	rec *agentRecord
	c   *conn

	mu      sync.Mutex
	next    int64
	cmds    map[int64]*pending
	partial map[string][]byte // job statuses whose last piece has not come
	// partialSize is the bytes in partial.
	partialSize int
}

// pending is a command sent, awaiting its result.
type pending struct {
	out      []byte
	tooBig   bool
	progress func(current, total uint32)
	result   *fleetpb.CommandResult
	done     chan struct{}
}

func newSession(m *Manager, rec *agentRecord, c *conn) *session {
	return &session{m: m, rec: rec, c: c, cmds: make(map[int64]*pending)}
}

// handle takes one message from the agent.
func (s *session) handle(msg *fleetpb.Message) error {
	switch p := msg.GetMessage().(type) {
	case *fleetpb.Message_Result:
		s.finish(p.Result)
	case *fleetpb.Message_Output:
		s.output(p.Output)
	case *fleetpb.Message_Progress:
		s.progressed(p.Progress)
	case *fleetpb.Message_JobState:
		return s.m.jobState(s, p.JobState)
	case *fleetpb.Message_DataRequest:
		return s.c.send(s.m.Files.answer(s.rec.id, p.DataRequest))
	default:
		return fmt.Errorf("protocol error: unexpected %v from an agent", msg.GetType())
	}
	return nil
}

func (s *session) lookup(id int64) *pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmds[id]
}

func (s *session) finish(r *fleetpb.CommandResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.cmds[r.GetCommandID()]
	if p == nil || p.result != nil {
		return // cancelled and forgotten, or a stray
	}
	p.result = r
	close(p.done)
}

func (s *session) output(o *fleetpb.CommandOutput) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.cmds[o.GetCommandID()]
	if p == nil || p.result != nil || p.tooBig {
		return
	}
	if len(p.out)+len(o.GetOutput()) > MaxOutput {
		p.tooBig, p.out = true, nil
		return
	}
	p.out = append(p.out, o.GetOutput()...)
}

func (s *session) progressed(pr *fleetpb.CommandProgress) {
	s.m.logger().Debug("fleet: command progress", "agent", s.rec.id, "command", pr.GetCommandID(),
		"current", pr.GetCurrent(), "total", pr.GetTotal())
	p := s.lookup(pr.GetCommandID())
	if p != nil && p.progress != nil {
		p.progress(pr.GetCurrent(), pr.GetTotal())
	}
}

// ended fails every command in flight: the link is gone.
func (s *session) ended(error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.cmds {
		if p.result == nil {
			close(p.done)
		}
	}
	s.cmds = nil
}

// do sends req as a Command and waits for its result.
func (s *session) do(ctx context.Context, req *ctlproto.Request, progress func(current, total uint32)) (*ctlproto.Response, error) {
	data, err := json.Marshal(commandData{Job: req.Job, Data: req.Data})
	if err != nil {
		return nil, err
	}
	p := &pending{progress: progress, done: make(chan struct{})}
	s.mu.Lock()
	if s.cmds == nil {
		s.mu.Unlock()
		return nil, s.lostError(req)
	}
	s.next++
	id := s.next
	s.cmds[id] = p
	s.mu.Unlock()
	defer s.forget(id)
	if err := s.c.send(&fleetpb.Command{CommandID: id, Type: string(req.Command), Data: string(data)}); err != nil {
		if errors.Is(err, wire.ErrTooBig) {
			return nil, fmt.Errorf("%s %s/%s: the request is too large for the fleet link (at most %d bytes a message)", req.Command, s.rec.id, req.Job, wire.MaxMessage)
		}
		return nil, s.lostError(req)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		_ = s.c.send(&fleetpb.CommandCancel{CommandID: id})
		t := time.NewTimer(cancelWait)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
		}
		return nil, ctx.Err()
	}
	s.mu.Lock()
	res, out, tooBig := p.result, p.out, p.tooBig
	s.mu.Unlock()
	switch {
	case res == nil:
		return nil, s.lostError(req)
	case tooBig || len(out)+len(res.GetOutput()) > MaxOutput:
		return ctlproto.Failf("%s %s/%s: the agent's output is over %d bytes", req.Command, s.rec.id, req.Job, MaxOutput), nil
	}
	return toResponse(req, res, append(out, res.GetOutput()...)), nil
}

func (s *session) forget(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.cmds, id)
}

// lostError is the failure of a command whose link dropped.
func (s *session) lostError(req *ctlproto.Request) error {
	<-s.c.done
	return fmt.Errorf("%s %s/%s: the connection to agent %q was lost: %v", req.Command, s.rec.id, req.Job, s.rec.id, s.c.err)
}

// toResponse turns a CommandResult into the control protocol's response.
// A result without the kind extension (from another implementation of the
// protocol) gets the kind its command implies.
func toResponse(req *ctlproto.Request, res *fleetpb.CommandResult, out []byte) *ctlproto.Response {
	kind := ctlproto.Kind(res.GetKind())
	switch res.GetStatus() {
	case fleetpb.CommandResult_FAILED:
		if kind == ctlproto.KindInvalid {
			return ctlproto.Invalid(string(out))
		}
		return &ctlproto.Response{Kind: ctlproto.KindFail, Error: string(out)}
	case fleetpb.CommandResult_CANCELLED:
		return ctlproto.Failf("%s %s: cancelled", req.Command, req.Job)
	case fleetpb.CommandResult_SUCCESS:
	default:
		return ctlproto.Failf("%s %s: the agent answered status %v", req.Command, req.Job, res.GetStatus())
	}
	if kind == "" {
		kind = impliedKind(req.Command, res.GetChanged())
	}
	switch kind {
	case ctlproto.KindSuccess, ctlproto.KindRedundant:
		return &ctlproto.Response{Kind: kind}
	case ctlproto.KindStatus:
		return ctlproto.Status(out)
	case ctlproto.KindFile:
		return ctlproto.File(req.Job, out)
	case ctlproto.KindList:
		return ctlproto.List(out)
	}
	return ctlproto.Failf("%s %s: the agent answered an unknown kind %q", req.Command, req.Job, kind)
}

func impliedKind(cmd ctlproto.Command, changed bool) ctlproto.Kind {
	switch cmd {
	case ctlproto.CmdStatus:
		return ctlproto.KindStatus
	case ctlproto.CmdPull, ctlproto.CmdTail:
		return ctlproto.KindFile
	case ctlproto.CmdList:
		return ctlproto.KindList
	}
	if changed {
		return ctlproto.KindSuccess
	}
	return ctlproto.KindRedundant
}

// ErrNoAgent is a command for an agent the manager has never seen.
var ErrNoAgent = errors.New("no such agent")

// Do runs a control request on agent id and returns its response. It
// fails at once for an agent that is not connected, and with the reason
// when the link drops before the result. progress, if not nil, is called
// with each CommandProgress.
func (m *Manager) Do(ctx context.Context, id string, req *ctlproto.Request, progress func(current, total uint32)) (*ctlproto.Response, error) {
	m.mu.Lock()
	m.initLocked()
	rec := m.agents[id]
	var sess *session
	var state, reason string
	var since time.Time
	if rec != nil {
		sess, state, reason, since = rec.sess, rec.state, rec.reason, rec.since
	}
	m.mu.Unlock()
	switch {
	case rec == nil:
		return nil, fmt.Errorf("%w: %q", ErrNoAgent, id)
	case sess == nil:
		return nil, fmt.Errorf("agent %q is %s since %s (%s)", id, state, since.UTC().Format(time.RFC3339), reason)
	}
	return sess.do(ctx, req, progress)
}
