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

// request is a request being carried out.
type request struct {
	ss   *session
	seq  int64  // the client's seq of the request
	typ  string // its type
	data json.RawMessage
}

// errAnswered says that a request's response has been arranged otherwise
// (list_jobs_response comes through the event stream).
var errAnswered = errors.New("answered")

// requestFunc carries out one kind of request and returns the data of its
// response (without seq), or an error for an error response.
type requestFunc func(ctx context.Context, r *request) (any, error)

// requests are the requests taskmasterd answers, by type.
var requests = map[string]requestFunc{
	"list_jobs_request":          listJobs,
	"start_job_request":          jobCommand(ctlproto.CmdStart),
	"stop_job_request":           jobCommand(ctlproto.CmdStop),
	"kill_job_request":           jobCommand(ctlproto.CmdKill),
	"repair_job_request":         jobCommand(ctlproto.CmdRepair),
	"restart_job_request":        restartJob,
	"reload_request":             reload,
	"tail_request":               tail,
	"subscribe_output_request":   subscribeOutput,
	"unsubscribe_output_request": unsubscribeOutput,
	"pull_job_file_request":      pullJobFile,
	"push_job_file_request":      pushJobFile,
	"delete_job_file_request":    deleteJobFile,
	"signal_job_request":         signalJob,
}

// handle carries out one request and queues its response.
func (ss *session) handle(m *Message) {
	r := &request{ss: ss, seq: m.Seq, typ: m.Type, data: m.Data}
	resp := strings.TrimSuffix(m.Type, "_request") + "_response"
	f, ok := requests[m.Type]
	if !ok {
		ss.queue(resp, errorData{Seq: m.Seq, Error: fmt.Sprintf("unknown request type %q", m.Type)})
		return
	}
	data, err := f(ss.ctx, r)
	switch {
	case errors.Is(err, errAnswered):
	case err != nil:
		ss.queue(resp, errorData{Seq: m.Seq, Error: err.Error()})
	default:
		b, err := withSeq(m.Seq, data)
		if err != nil {
			ss.queue(resp, errorData{Seq: m.Seq, Error: "internal error: " + err.Error()})
			return
		}
		ss.queue(resp, b)
	}
}

// withSeq returns data, a value that encodes as a JSON object, with the
// request's seq added as its first key.
func withSeq(seq int64, data any) (json.RawMessage, error) {
	b, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	if len(b) < 2 || b[0] != '{' {
		return nil, fmt.Errorf("response data is not an object: %s", b)
	}
	head := fmt.Sprintf(`{"seq":%d`, seq)
	if string(b) == "{}" {
		return json.RawMessage(head + "}"), nil
	}
	return json.RawMessage(head + "," + string(b[1:])), nil
}

// decode reads a request's data into v, strictly: an unknown key is an
// error that names it, as a typo should be.
func (r *request) decode(v any) error {
	dec := json.NewDecoder(strings.NewReader(string(r.data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: bad data: %v", r.typ, err)
	}
	return nil
}

// run carries out a control protocol request, exactly as the control port
// would, and returns its response; fail and invalid become errors.
func (r *request) run(ctx context.Context, cmd ctlproto.Command, job string, data []byte) (*ctlproto.Response, error) {
	req := &ctlproto.Request{Command: cmd, Job: job, Data: data}
	if err := req.Validate(); err != nil {
		var rerr *ctlproto.RequestError
		if errors.As(err, &rerr) {
			return nil, fmt.Errorf("%s: %s", r.typ, rerr.Reason)
		}
		return nil, err
	}
	resp := r.ss.srv.Ops.ServeCtl(ctx, req)
	switch resp.Kind {
	case ctlproto.KindFail, ctlproto.KindInvalid:
		return nil, errors.New(resp.Error)
	}
	return resp, nil
}

// jobData is the data of a request about one job.
type jobData struct {
	Job string `json:"job"`
}

// result is the data of a response that only says how it went.
type result struct {
	Result string `json:"result"` // "success", or "redundant" when there was nothing to do
}

func (r *request) job() (string, error) {
	var d jobData
	if err := r.decode(&d); err != nil {
		return "", err
	}
	if d.Job == "" {
		return "", fmt.Errorf("%s: missing job", r.typ)
	}
	return d.Job, nil
}

// jobCommand is a request that runs one control command on a job.
func jobCommand(cmd ctlproto.Command) requestFunc {
	return func(ctx context.Context, r *request) (any, error) {
		job, err := r.job()
		if err != nil {
			return nil, err
		}
		resp, err := r.run(ctx, cmd, job, nil)
		if err != nil {
			return nil, err
		}
		return result{Result: string(resp.Kind)}, nil
	}
}

// restartJob stops the job, then starts it, as `taskmasterctl restart JOB`
// does.
func restartJob(ctx context.Context, r *request) (any, error) {
	job, err := r.job()
	if err != nil {
		return nil, err
	}
	if _, err := r.run(ctx, ctlproto.CmdStop, job, nil); err != nil {
		return nil, err
	}
	resp, err := r.run(ctx, ctlproto.CmdStart, job, nil)
	if err != nil {
		return nil, err
	}
	return result{Result: string(resp.Kind)}, nil
}

// reload reloads one job file, or every one when no job is given; the
// response comes once the change is carried out.
func reload(ctx context.Context, r *request) (any, error) {
	var d jobData
	if err := r.decode(&d); err != nil {
		return nil, err
	}
	cmd := ctlproto.CmdReload
	if d.Job == "" {
		cmd = ctlproto.CmdRestart
	}
	resp, err := r.run(ctx, cmd, d.Job, nil)
	if err != nil {
		return nil, err
	}
	return result{Result: string(resp.Kind)}, nil
}

// listJobs asks the event stream for a snapshot: its response comes
// between the events before it and those after.
func listJobs(ctx context.Context, r *request) (any, error) {
	if err := r.decode(&struct{}{}); err != nil {
		return nil, err
	}
	// The writer may have replaced the subscription (after a loss of
	// events) since it was loaded: then ask the new one.
	for {
		err := r.ss.sub.Load().Snapshot(ctx, snapshotTag{seq: r.seq})
		switch {
		case err == nil:
			return nil, errAnswered
		case errors.Is(err, jobs.ErrSubscriptionEnded) && ctx.Err() == nil:
			continue
		case errors.Is(err, jobs.ErrStopped):
			return nil, errors.New("taskmasterd is shutting down")
		default:
			return nil, err
		}
	}
}

// snapshotTag marks the snapshot of one list_jobs_request.
type snapshotTag struct{ seq int64 }

// fileData is the data of pull and push.
type fileData struct {
	Job     string `json:"job"`
	Content string `json:"content"`
}

func pullJobFile(ctx context.Context, r *request) (any, error) {
	job, err := r.job()
	if err != nil {
		return nil, err
	}
	resp, err := r.run(ctx, ctlproto.CmdPull, job, nil)
	if err != nil {
		return nil, err
	}
	return fileData{Job: job, Content: string(resp.Data)}, nil
}

func pushJobFile(ctx context.Context, r *request) (any, error) {
	var d fileData
	if err := r.decode(&d); err != nil {
		return nil, err
	}
	if d.Job == "" {
		return nil, fmt.Errorf("%s: missing job", r.typ)
	}
	if d.Content == "" {
		return nil, fmt.Errorf("%s: missing content", r.typ)
	}
	resp, err := r.run(ctx, ctlproto.CmdPush, d.Job, []byte(d.Content))
	if err != nil {
		return nil, err
	}
	return result{Result: string(resp.Kind)}, nil
}

func deleteJobFile(ctx context.Context, r *request) (any, error) {
	job, err := r.job()
	if err != nil {
		return nil, err
	}
	resp, err := r.run(ctx, ctlproto.CmdDelete, job, nil)
	if err != nil {
		return nil, err
	}
	return result{Result: string(resp.Kind)}, nil
}

// signalData is the data of signal_job_request.
type signalData struct {
	Job    string `json:"job"`
	Signal string `json:"signal"` // a name or number, as stopsignal takes it: "HUP", "SIGUSR2", "10"
}

// signalJob sends a signal to the job's process groups, as the control
// protocol's signal does.
func signalJob(ctx context.Context, r *request) (any, error) {
	var d signalData
	if err := r.decode(&d); err != nil {
		return nil, err
	}
	if d.Job == "" {
		return nil, fmt.Errorf("%s: missing job", r.typ)
	}
	if d.Signal == "" {
		return nil, fmt.Errorf("%s: missing signal", r.typ)
	}
	resp, err := r.run(ctx, ctlproto.CmdSignal, d.Job, []byte(d.Signal))
	if err != nil {
		return nil, err
	}
	return result{Result: string(resp.Kind)}, nil
}
