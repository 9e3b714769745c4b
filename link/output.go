package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs"
)

// tailReply is the data of the control protocol's tail reply.
type tailReply struct {
	Output    []byte `json:"output"`
	Next      uint64 `json:"next"`
	Truncated bool   `json:"truncated"`
}

// runTail runs the control protocol's tail on one instance.
func (r *request) runTail(ctx context.Context, instance string, data []byte) (*tailReply, error) {
	resp, err := r.run(ctx, ctlproto.CmdTail, instance, data)
	if err != nil {
		return nil, err
	}
	var t tailReply
	if err := json.Unmarshal(resp.Data, &t); err != nil {
		return nil, fmt.Errorf("tail %s: %v", instance, err)
	}
	return &t, nil
}

// tailData is the data of tail_request.
type tailData struct {
	Job   string `json:"job"`
	Lines int    `json:"lines"` // the last lines only; 0 for all that is kept
}

// outputData is the data of tail_response and output_event. Output is
// text: bytes that are not UTF-8 arrive as U+FFFD.
type outputData struct {
	Job       string `json:"job"`
	Instance  string `json:"instance,omitempty"`
	Stream    string `json:"stream,omitempty"`
	Data      string `json:"data"`
	Next      uint64 `json:"next"`
	Truncated bool   `json:"truncated"`
}

// streamOutput is the stream of every output_event: taskmasterd keeps an
// instance's stdout and stderr interleaved in one buffer, as tail shows.
const streamOutput = "output"

func tail(ctx context.Context, r *request) (any, error) {
	var d tailData
	if err := r.decode(&d); err != nil {
		return nil, err
	}
	if d.Job == "" {
		return nil, fmt.Errorf("%s: missing job", r.typ)
	}
	t, err := r.runTail(ctx, d.Job, nil)
	if err != nil {
		return nil, err
	}
	out, cut := lastLines(t.Output, d.Lines)
	return outputData{Job: d.Job, Data: string(out), Next: t.Next, Truncated: t.Truncated || cut}, nil
}

// lastLines returns the last n lines of b (all of it for n <= 0), and
// whether it left some out.
func lastLines(b []byte, n int) ([]byte, bool) {
	if n <= 0 {
		return b, false
	}
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n--
			if n == 0 {
				return b[i+1:], true
			}
		}
	}
	return b, false
}

// follow is the output of one instance being followed.
type follow struct {
	instance string
	cancel   context.CancelFunc
}

// subscribeData is the data of subscribe_output_request.
type subscribeData struct {
	Job   string  `json:"job"`
	After *uint64 `json:"after"` // with one instance: follow from here (a tail_response's next)
}

// subscribedData is the data of subscribe_output_response.
type subscribedData struct {
	Result    string   `json:"result"` // "success", or "redundant" if it was followed already
	Job       string   `json:"job"`
	Instances []string `json:"instances"`
}

func subscribeOutput(ctx context.Context, r *request) (any, error) {
	var d subscribeData
	if err := r.decode(&d); err != nil {
		return nil, err
	}
	if d.Job == "" {
		return nil, fmt.Errorf("%s: missing job", r.typ)
	}
	instances, err := r.instances(ctx, d.Job)
	if err != nil {
		return nil, err
	}
	if d.After != nil && len(instances) != 1 {
		return nil, fmt.Errorf("%s: after needs one instance, and %s has %d", r.typ, d.Job, len(instances))
	}
	ss := r.ss
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if _, ok := ss.follows[d.Job]; ok {
		return subscribedData{Result: string(ctlproto.KindRedundant), Job: d.Job, Instances: instances}, nil
	}
	if n, max := ss.followed()+len(instances), orDefault(ss.srv.MaxFollowed, DefaultMaxFollowed); n > max {
		return nil, fmt.Errorf("%s: following %d instances at once is more than the %d allowed", r.typ, n, max)
	}
	// Where each follow starts is settled before the response: output
	// written after the response is never missed.
	starts := make([]uint64, len(instances))
	for i, in := range instances {
		if d.After != nil {
			starts[i] = *d.After
			continue
		}
		t, err := r.runTail(ctx, in, nil)
		if err != nil {
			return nil, err
		}
		starts[i] = t.Next
	}
	for i, in := range instances {
		fctx, cancel := context.WithCancel(ss.ctx)
		ss.follows[d.Job] = append(ss.follows[d.Job], &follow{instance: in, cancel: cancel})
		ss.work.Go(func() { r.follow(fctx, d.Job, in, starts[i]) })
	}
	return subscribedData{Result: string(ctlproto.KindSuccess), Job: d.Job, Instances: instances}, nil
}

// followed counts the instances followed. The caller holds ss.mu.
func (ss *session) followed() int {
	n := 0
	for _, fs := range ss.follows {
		n += len(fs)
	}
	return n
}

func unsubscribeOutput(ctx context.Context, r *request) (any, error) {
	job, err := r.job()
	if err != nil {
		return nil, err
	}
	ss := r.ss
	ss.mu.Lock()
	fs, ok := ss.follows[job]
	delete(ss.follows, job)
	ss.mu.Unlock()
	if !ok {
		return result{Result: string(ctlproto.KindRedundant)}, nil
	}
	for _, f := range fs {
		f.cancel()
	}
	return result{Result: string(ctlproto.KindSuccess)}, nil
}

// instances returns the instances a target names, as status knows them.
func (r *request) instances(ctx context.Context, target string) ([]string, error) {
	resp, err := r.run(ctx, ctlproto.CmdStatus, target, nil)
	if err != nil {
		return nil, err
	}
	var st jobs.JobStatus
	if err := json.Unmarshal(resp.Data, &st); err != nil {
		return nil, fmt.Errorf("status %s: %v", target, err)
	}
	if _, n, ok := strings.Cut(target, ":"); ok && n != "" {
		return []string{target}, nil
	}
	names := make([]string, 0, len(st.Processes))
	for _, p := range st.Processes {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s has no instances", target)
	}
	return names, nil
}

// followWait is how long one long poll of a follower waits; a follower
// blocks in it and costs nothing while the instance is silent.
const followWait = `3600000`

// follow sends the output of instance as output_events, from next on,
// until ctx ends or the instance is gone.
func (r *request) follow(ctx context.Context, job, instance string, next uint64) {
	for ctx.Err() == nil {
		data := fmt.Appendf(nil, `{"after":%d,"follow":true,"timeout_ms":%s}`, next, followWait)
		t, err := r.runTail(ctx, instance, data)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				r.ss.srv.logger().Debug("live link: output follow ended", "instance", instance, "err", err)
			}
			return
		}
		if len(t.Output) > 0 || t.Truncated {
			ev := outputData{Job: job, Instance: instance, Stream: streamOutput, Data: string(t.Output),
				Next: t.Next, Truncated: t.Truncated}
			if !r.ss.queue(TypeOutput, ev) {
				return
			}
		}
		next = t.Next
	}
}
