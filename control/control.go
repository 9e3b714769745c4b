// Package control answers Taskmaster control protocol requests (ctlproto)
// with the job supervisor (jobs) and the job files of the jobs directory.
// It is where the wire's commands meet taskmasterd's operations; neither
// of those packages knows of the other.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/internal/jsonx"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/attach"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/output"
)

// Supervisor is what the handler needs of *jobs.Supervisor.
type Supervisor interface {
	Start(ctx context.Context, target string) error
	Stop(ctx context.Context, target string) error
	Kill(ctx context.Context, target string) error
	Repair(ctx context.Context, target string) error
	Status(ctx context.Context, target string) ([]jobs.JobStatus, error)
	Names(ctx context.Context) ([]string, error)
	Reload(ctx context.Context, only string) error
	Settled(ctx context.Context, target string) error
	Wait(ctx context.Context, target string, state jobs.State) error
	WaitReady(ctx context.Context, target string) error
	Output(ctx context.Context, target string) (*output.Ring, error)
	Signal(ctx context.Context, target string, sig syscall.Signal) error
	Attach(ctx context.Context, target string, buffer int) (*attach.Session, string, error)
}

// Handler serves control requests. Create it with New.
type Handler struct {
	sup        Supervisor
	dir        string // the jobs directory
	onShutdown func() // asks taskmasterd to shut down; nil: shutdown is refused
}

// New returns a Handler for sup, whose job files live in dir.
func New(sup Supervisor, dir string) *Handler {
	return &Handler{sup: sup, dir: dir}
}

// ServeCtl answers one request.
func (h *Handler) ServeCtl(ctx context.Context, req *ctlproto.Request) *ctlproto.Response {
	switch req.Command {
	case ctlproto.CmdStart:
		return outcome(h.sup.Start(ctx, req.Job))
	case ctlproto.CmdStop:
		return outcome(h.sup.Stop(ctx, req.Job))
	case ctlproto.CmdKill:
		return outcome(h.sup.Kill(ctx, req.Job))
	case ctlproto.CmdRepair:
		return repaired(h.sup.Repair(ctx, req.Job))
	case ctlproto.CmdStatus:
		return h.status(ctx, req.Job)
	case ctlproto.CmdList:
		return h.list(ctx)
	case ctlproto.CmdPull:
		return h.pull(req.Job)
	case ctlproto.CmdPush:
		return h.push(ctx, req.Job, req.Data)
	case ctlproto.CmdDelete:
		return h.delete(ctx, req.Job)
	case ctlproto.CmdReload:
		return h.reload(ctx, req.Job)
	case ctlproto.CmdRestart:
		return h.reloadAndSettle(ctx, "")
	case ctlproto.CmdWait:
		return h.wait(ctx, req.Job, req.Data)
	case ctlproto.CmdTail:
		return h.tail(ctx, req.Job, req.Data)
	case ctlproto.CmdAttach:
		return h.attach(ctx, req.Job, req.Data)
	case ctlproto.CmdSignal:
		return h.signal(ctx, req.Job, req.Data)
	case ctlproto.CmdShutdown:
		return h.shutdown()
	case ctlproto.CmdAgents:
		// A fleet manager answers it before this handler (fleet.Router).
		return ctlproto.Failf("agents: this taskmasterd is not a fleet manager (-fleet-listen is off)")
	}
	return ctlproto.Invalid(fmt.Sprintf("unknown command %q", req.Command))
}

// outcome turns an operation's result into the document's responses.
func outcome(err error) *ctlproto.Response {
	switch {
	case err == nil:
		return ctlproto.Success()
	case errors.Is(err, jobs.ErrRedundant):
		return ctlproto.Redundant()
	}
	return ctlproto.Fail(err)
}

// repaired answers a repair. Nothing to repair is success, not redundant:
// the original taskmasterctl understands redundant only after start, stop and
// kill and crashes on it after repair, and the original daemon answered
// success there (docs/protocol.md, Compatibility).
func repaired(err error) *ctlproto.Response {
	if errors.Is(err, jobs.ErrRedundant) {
		return ctlproto.Success()
	}
	return outcome(err)
}

func (h *Handler) status(ctx context.Context, target string) *ctlproto.Response {
	st, err := h.sup.Status(ctx, target)
	if err != nil {
		return ctlproto.Fail(err)
	}
	var data []byte
	if target == "" || target == jobs.All {
		if st == nil {
			st = []jobs.JobStatus{} // {"jobs":[]}, not {"jobs":null}
		}
		data, err = jsonx.Marshal(struct {
			Jobs []jobs.JobStatus `json:"jobs"`
		}{st})
	} else {
		data, err = jsonx.Marshal(st[0])
	}
	if err != nil {
		return ctlproto.Fail(err)
	}
	return ctlproto.Status(data)
}

func (h *Handler) list(ctx context.Context) *ctlproto.Response {
	names, err := h.sup.Names(ctx)
	if err != nil {
		return ctlproto.Fail(err)
	}
	return ctlproto.List(ctlproto.EncodeJobList(names))
}

func (h *Handler) reload(ctx context.Context, name string) *ctlproto.Response {
	if err := jobfile.ValidName(name); err != nil {
		return ctlproto.Fail(err)
	}
	return h.reloadAndSettle(ctx, name)
}

// reloadAndSettle reloads one job file (or all, for "") and answers once
// the change has been carried out: the old processes stopped, the new ones
// started (or failed to), so that the next status shows the result.
func (h *Handler) reloadAndSettle(ctx context.Context, name string) *ctlproto.Response {
	if err := h.sup.Reload(ctx, name); err != nil {
		return outcome(err)
	}
	return outcome(h.sup.Settled(ctx, name))
}

// WaitReady is the "state" of a wait request that waits until the target
// is ready (jobs.Supervisor.WaitReady) rather than in a state.
const WaitReady = "READY"

// waitRequest is the data of a wait request.
type waitRequest struct {
	State     string `json:"state"`
	TimeoutMS int64  `json:"timeout_ms"`
}

// defaultWait bounds a wait request that names no timeout; maxWait bounds
// any wait, whatever it asks for.
const (
	defaultWait = 30 * time.Second
	maxWait     = time.Hour
)

// waitFor is the time a wait or tail request may take: timeoutMS if given,
// within maxWait.
func waitFor(timeoutMS int64) time.Duration {
	if timeoutMS <= 0 {
		return defaultWait
	}
	if timeoutMS >= maxWait.Milliseconds() { // before multiplying, which could overflow
		return maxWait
	}
	return time.Duration(timeoutMS) * time.Millisecond
}

func (h *Handler) wait(ctx context.Context, target string, data []byte) *ctlproto.Response {
	var req waitRequest
	if err := json.Unmarshal(data, &req); err != nil {
		return ctlproto.Failf("wait: data must be JSON like {\"state\":\"RUNNING\",\"timeout_ms\":30000}: %v", err)
	}
	state, ok := jobs.ParseState(req.State)
	if !ok && req.State != WaitReady {
		return ctlproto.Failf("wait: unknown state %q", req.State)
	}
	timeout := waitFor(req.TimeoutMS)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var err error
	if req.State == WaitReady {
		err = h.sup.WaitReady(wctx, target)
	} else {
		err = h.sup.Wait(wctx, target, state)
	}
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		return ctlproto.Failf("%s did not reach %s within %v", target, req.State, timeout)
	}
	return outcome(err)
}
