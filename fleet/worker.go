package fleet

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/jobs"
)

// chunk bounds the text one message carries: a command's output piece, a
// job status piece; the rest of the message fits in what MaxMessage
// leaves.
const chunk = 60 << 10

// handle takes one message from the manager.
func (w *worker) handle(m *fleetpb.Message) error {
	switch p := m.GetMessage().(type) {
	case *fleetpb.Message_Command:
		w.command(p.Command)
	case *fleetpb.Message_Cancel:
		w.cancel(p.Cancel.GetCommandID())
	case *fleetpb.Message_DataResponse:
		w.dataResponse(p.DataResponse)
	case *fleetpb.Message_JobsChanged:
		w.jobsChanged()
	default:
		return fmt.Errorf("protocol error: unexpected %v from the manager", m.GetType())
	}
	return nil
}

// command runs one Command on the control handler, in its own goroutine.
func (w *worker) command(cmd *fleetpb.Command) {
	id := cmd.GetCommandID()
	var d commandData
	if cmd.GetData() != "" {
		if err := json.Unmarshal([]byte(cmd.GetData()), &d); err != nil {
			w.result(id, ctlproto.Invalid(fmt.Sprintf("command data: want JSON {\"job\",\"data\"}: %v", err)), false)
			return
		}
	}
	req := &ctlproto.Request{Command: ctlproto.Command(cmd.GetType()), Job: d.Job, Data: d.Data}
	if err := req.Validate(); err != nil {
		w.result(id, ctlproto.Invalid(err.Error()), false)
		return
	}
	if req.Command == ctlproto.CmdAttach {
		// Its reply would open a stream (and hold a session) that the
		// fleet link cannot carry.
		w.result(id, errNoRemoteAttach(d.Job), false)
		return
	}
	w.mu.Lock()
	if _, dup := w.cmds[id]; dup || len(w.cmds) >= orDefault(w.a.MaxCommands, DefaultMaxCommands) || w.ctx.Err() != nil {
		w.mu.Unlock()
		w.result(id, ctlproto.Failf("%s: refused: command %d is running, or too many commands are", req.Command, id), false)
		return
	}
	ctx, cancel := context.WithCancel(w.ctx)
	w.cmds[id] = cancel
	w.wg.Add(1)
	w.mu.Unlock()
	go func() {
		defer w.wg.Done()
		finish := w.progress(id, req)
		resp := w.a.Ops.ServeCtl(ctx, req)
		if finish != nil {
			finish() // the progress before the result
		}
		w.mu.Lock()
		delete(w.cmds, id)
		w.mu.Unlock()
		cancelled := ctx.Err() != nil && w.ctx.Err() == nil
		cancel()
		w.result(id, resp, cancelled)
	}()
}

// cancel cancels a command in flight; its result says CANCELLED.
func (w *worker) cancel(id int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if cancel := w.cmds[id]; cancel != nil {
		cancel()
	}
}

// result sends a command's response as CommandOutput pieces and a
// CommandResult.
func (w *worker) result(id int64, resp *ctlproto.Response, cancelled bool) {
	res := &fleetpb.CommandResult{CommandID: id, Status: fleetpb.CommandResult_SUCCESS, Kind: string(resp.Kind)}
	out := resp.Data
	switch resp.Kind {
	case ctlproto.KindSuccess:
		res.Changed = true
	case ctlproto.KindFail, ctlproto.KindInvalid:
		res.Status, out = fleetpb.CommandResult_FAILED, []byte(resp.Error)
	}
	switch {
	case !utf8.Valid(out):
		res.Status, res.Kind = fleetpb.CommandResult_FAILED, string(ctlproto.KindFail)
		out = []byte("the output is not UTF-8 text, which the fleet link cannot carry")
	case len(out) > MaxOutput:
		res.Status, res.Kind = fleetpb.CommandResult_FAILED, string(ctlproto.KindFail)
		out = fmt.Appendf(nil, "the output is %d bytes, over the fleet link's limit of %d", len(out), MaxOutput)
	}
	if cancelled {
		res.Status = fleetpb.CommandResult_CANCELLED
	}
	for len(out) > chunk {
		n := cut(out, chunk)
		if w.c.send(&fleetpb.CommandOutput{CommandID: id, Output: string(out[:n])}) != nil {
			return
		}
		out = out[n:]
	}
	res.Output = string(out)
	_ = w.c.send(res)
}

// cut is where to cut the UTF-8 text b to at most n bytes: before a rune.
func cut(b []byte, n int) int {
	if len(b) <= n {
		return len(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return n
}

// pushStates keeps the manager up to date with the jobs' states: a
// complete list first, then the jobs that changed, as they change. A
// subscription that fell behind is replaced, and the list sent again.
func (w *worker) pushStates() {
	defer w.wg.Done()
	if w.a.Events == nil {
		return
	}
	for w.ctx.Err() == nil {
		sub, err := w.a.Events.Subscribe(0)
		if err != nil {
			return // the supervisor stopped
		}
		w.follow(sub)
		sub.Close()
	}
}

// follow sends the states of one subscription until it ends.
func (w *worker) follow(sub *jobs.Subscription) {
	if err := sub.Snapshot(w.ctx, nil); err != nil {
		return
	}
	dirty := make(map[string]struct{})
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			w.note(ev, dirty)
			w.drain(sub, dirty) // whatever else is there: a burst is one message
			w.flush(dirty)
		case done := <-w.flushReq:
			w.drain(sub, dirty)
			w.flush(dirty)
			close(done)
		case <-w.ctx.Done():
			return
		}
	}
}

// drain notes the events already there.
func (w *worker) drain(sub *jobs.Subscription, dirty map[string]struct{}) {
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			w.note(ev, dirty)
		default:
			return
		}
	}
}

// flushWait bounds flushStates.
const flushWait = time.Second

// flushStates sends the job states not sent yet, and returns once they
// are, or after flushWait.
func (w *worker) flushStates() {
	done := make(chan struct{})
	t := time.NewTimer(flushWait)
	defer t.Stop()
	select {
	case w.flushReq <- done:
	case <-t.C:
		return
	case <-w.ctx.Done():
		return
	}
	select {
	case <-done:
	case <-t.C:
	}
}

// note records what an event changed; a snapshot is sent at once.
func (w *worker) note(ev *jobs.Event, dirty map[string]struct{}) {
	switch ev.Kind {
	case jobs.InstanceChanged:
		dirty[ev.Instance.Job] = struct{}{}
	case jobs.FileChanged:
		dirty[ev.File.Job] = struct{}{}
	case jobs.Snapshot:
		clear(dirty)
		list := make([]*fleetpb.JobStatus, 0, len(ev.Jobs))
		for _, st := range ev.Jobs {
			b, err := json.Marshal(st)
			if err != nil {
				continue
			}
			list = append(list, &fleetpb.JobStatus{Name: st.Name, Status: string(b)})
		}
		w.sendStates(true, list)
	}
}

// flush sends the current status of the jobs in dirty, as the control
// handler gives it, and empties dirty.
func (w *worker) flush(dirty map[string]struct{}) {
	if len(dirty) == 0 {
		return
	}
	list := make([]*fleetpb.JobStatus, 0, len(dirty))
	for name := range dirty {
		resp := w.a.Ops.ServeCtl(w.ctx, &ctlproto.Request{Command: ctlproto.CmdStatus, Job: name})
		if resp.Kind == ctlproto.KindStatus {
			list = append(list, &fleetpb.JobStatus{Name: name, Status: string(resp.Data)})
		} else {
			list = append(list, &fleetpb.JobStatus{Name: name, Removed: true})
		}
	}
	clear(dirty)
	w.sendStates(false, list)
}

// sendStates sends list in as few JobState messages as fit, reset on the
// first; a status larger than a message goes in pieces (more).
func (w *worker) sendStates(reset bool, list []*fleetpb.JobStatus) {
	msg := &fleetpb.JobState{Reset_: reset}
	size := 0
	send := func() bool {
		err := w.c.send(msg)
		msg, size = &fleetpb.JobState{}, 0
		return err == nil
	}
	for _, js := range list {
		status := js.GetStatus()
		for {
			n := cut([]byte(status), chunk)
			piece := &fleetpb.JobStatus{Name: js.GetName(), Status: status[:n], Removed: js.GetRemoved(), More: n < len(status)}
			if size+n+len(js.GetName())+16 > chunk && len(msg.Jobs) > 0 {
				if !send() {
					return
				}
			}
			msg.Jobs = append(msg.Jobs, piece)
			size += n + len(js.GetName()) + 16
			status = status[n:]
			if status == "" {
				break
			}
		}
	}
	if len(msg.Jobs) > 0 || msg.Reset_ {
		send()
	}
}
