package fleet

import (
	"encoding/json"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/jobs"
)

// progressCommands are the commands whose progress an agent reports, when
// their target has more than one instance: how many of the instances
// have settled (reached RUNNING, STOPPED, EXITED or FATAL) since the
// command began. It is read from the supervisor's event stream, as any
// observer could: the operation itself is the control handler's.
var progressCommands = map[ctlproto.Command]bool{
	ctlproto.CmdStart: true, ctlproto.CmdStop: true, ctlproto.CmdKill: true, ctlproto.CmdRepair: true,
}

// settled are the states that end an instance's part in a command.
var settled = map[string]bool{"RUNNING": true, "STOPPED": true, "EXITED": true, "FATAL": true}

// progress reports the progress of command id on req until the returned
// function is called, which sends what is left to send and returns.
// It returns nil when there is nothing to report.
func (w *worker) progress(id int64, req *ctlproto.Request) func() {
	if !progressCommands[req.Command] || w.a.Events == nil {
		return nil
	}
	targets := w.instances(req.Job)
	if len(targets) < 2 {
		return nil
	}
	sub, err := w.a.Events.Subscribe(0)
	if err != nil {
		return nil
	}
	total := uint32(len(targets))
	var current uint32
	done := make(chan struct{})
	finished := make(chan struct{})
	take := func(ev *jobs.Event) {
		if ev.Kind != jobs.InstanceChanged || !targets[ev.Instance.Instance] || !settled[ev.Instance.State] {
			return
		}
		delete(targets, ev.Instance.Instance)
		current++
		_ = w.c.send(&fleetpb.CommandProgress{CommandID: id, Current: current, Total: total})
	}
	go func() {
		defer close(finished)
		defer sub.Close()
		for {
			select {
			case ev, ok := <-sub.C:
				if !ok {
					return
				}
				take(ev)
			case <-done:
				for { // what happened before the command returned
					select {
					case ev, ok := <-sub.C:
						if !ok {
							return
						}
						take(ev)
					default:
						return
					}
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// instances are the instances (NAME:N) a target names now.
func (w *worker) instances(target string) map[string]bool {
	resp := w.a.Ops.ServeCtl(w.ctx, &ctlproto.Request{Command: ctlproto.CmdStatus, Job: target})
	if resp.Kind != ctlproto.KindStatus {
		return nil
	}
	var all struct {
		Jobs *[]jobs.JobStatus `json:"jobs"`
	}
	var list []jobs.JobStatus
	if json.Unmarshal(resp.Data, &all) == nil && all.Jobs != nil {
		list = *all.Jobs
	} else {
		var one jobs.JobStatus
		if json.Unmarshal(resp.Data, &one) != nil {
			return nil
		}
		list = []jobs.JobStatus{one}
	}
	out := make(map[string]bool)
	for _, j := range list {
		for _, p := range j.Processes {
			out[p.Name] = true
		}
	}
	return out
}
