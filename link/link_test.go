package link

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const running = `{"cmd":"/bin/sleep 100","starttime":0,"numprocs":2}`

// The handshake: hello with the protocol version, register_control, ready;
// then list_jobs_request is answered with every instance, matched by seq.
func TestHandshakeThenListJobs(t *testing.T) {
	w := newWorld(t, "", map[string]string{"web": running})
	cl := w.connect()
	m := cl.next()
	require.Equal(t, TypeHello, m.Type)
	hello := decodeData[Hello](t, m)
	require.Equal(t, ProtocolVersion, hello.Version)
	require.False(t, hello.TokenRequired)
	cl.send(TypeRegisterControl, Register{Agent: "test", Version: "1.2.0"})
	require.Equal(t, TypeReady, cl.next().Type)

	seq := cl.send("list_jobs_request", struct{}{})
	m = cl.until("list_jobs_response")
	list := decodeData[listJobsData](t, m)
	require.Equal(t, seq, list.Seq)
	require.Len(t, list.Jobs, 1)
	require.Equal(t, "web", list.Jobs[0].Name)
	require.Len(t, list.Instances, 2)
	for i, in := range list.Instances {
		require.Equal(t, "web", in.Job)
		require.Equal(t, i, in.Index)
		require.Equal(t, "RUNNING", in.State)
		require.NotZero(t, in.Pid)
		require.NotNil(t, in.Uptime)
	}
}

// Every message the server sends has a seq greater than the one before.
func TestServerSeqIncreases(t *testing.T) {
	w := newWorld(t, "", map[string]string{"web": running})
	cl := w.register("")
	cl.send("list_jobs_request", struct{}{})
	m := cl.until("list_jobs_response")
	require.Equal(t, int64(3), m.Seq, "hello, ready, then the response")
}

func TestHandshakeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, token string
		first       func(cl *client)
		reason      string
	}{
		{"bad token", "secret", func(cl *client) {
			cl.send(TypeRegisterControl, Register{Token: "guess", Version: "1.0.0"})
		}, "authentication failed: bad token"},
		{"no token", "secret", func(cl *client) {
			cl.send(TypeRegisterControl, Register{Version: "1.0.0"})
		}, "authentication required"},
		{"unsupported version", "", func(cl *client) {
			cl.send(TypeRegisterControl, Register{Version: "2.0.0"})
		}, `unsupported version "2.0.0"`},
		{"missing version", "", func(cl *client) {
			cl.send(TypeRegisterControl, Register{})
		}, "missing version"},
		{"request before the handshake", "", func(cl *client) {
			cl.send("list_jobs_request", struct{}{})
		}, `expected register_control, got "list_jobs_request"`},
		{"invalid JSON", "", func(cl *client) { cl.sendRaw([]byte(`{"type":`)) }, "invalid JSON"},
		{"too large", "", func(cl *client) { cl.c.toServer <- nil }, "message too large"},
		{"register_slave", "", func(cl *client) {
			cl.send(TypeRegisterSlave, Register{Version: "1.0.0", Name: "a", ID: 1})
		}, "not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, tc.token, nil)
			cl := w.connect()
			require.Equal(t, TypeHello, cl.next().Type)
			tc.first(cl)
			reason := cl.closed()
			if tc.name == "register_slave" {
				require.Contains(t, reason, "register_slave: this taskmasterd is not a fleet manager")
				return
			}
			require.Contains(t, reason, tc.reason)
			require.Zero(t, w.srv.Active())
		})
	}
}

// The right token is accepted.
func TestTokenAccepted(t *testing.T) {
	w := newWorld(t, "secret", map[string]string{"web": running})
	cl := w.register("secret")
	cl.send("list_jobs_request", struct{}{})
	cl.until("list_jobs_response")
	require.Equal(t, 1, w.srv.Active())
}

// Stopping a job: its instances' job_update_events (with the state they
// left) come before the response, which says success.
func TestStopJobSendsUpdatesThenResponse(t *testing.T) {
	w := newWorld(t, "", map[string]string{"web": running})
	cl := w.register("")
	seq := cl.send("stop_job_request", jobData{Job: "web"})
	stopped := map[string]bool{}
	for {
		m := cl.next()
		if m.Type == "stop_job_response" {
			res := decodeData[map[string]any](t, m)
			require.Equal(t, float64(seq), res["seq"])
			require.Equal(t, "success", res["result"])
			break
		}
		require.Equal(t, TypeJobUpdate, m.Type)
		ev := decodeData[instanceData](t, m)
		require.Equal(t, "web", ev.Job)
		if ev.State == "STOPPED" {
			require.Equal(t, "STOPPING", ev.From)
			stopped[ev.Instance] = true
		}
	}
	require.Equal(t, map[string]bool{"web:0": true, "web:1": true}, stopped)
	seq = cl.send("stop_job_request", jobData{Job: "web"})
	res := decodeData[map[string]any](t, cl.until("stop_job_response"))
	require.Equal(t, "redundant", res["result"])
	require.Equal(t, float64(seq), res["seq"])
}

// A request that fails is answered {seq, error}; the link goes on.
func TestErrorResponse(t *testing.T) {
	w := newWorld(t, "", nil)
	cl := w.register("")
	seq := cl.send("start_job_request", jobData{Job: "nosuch"})
	m := cl.until("start_job_response")
	e := decodeData[errorData](t, m)
	require.Equal(t, seq, e.Seq)
	require.Contains(t, e.Error, "nosuch")

	seq = cl.send("frobnicate_request", struct{}{})
	e = decodeData[errorData](t, cl.until("frobnicate_response"))
	require.Equal(t, seq, e.Seq)
	require.Contains(t, e.Error, `unknown request type "frobnicate_request"`)

	seq = cl.send("start_job_request", map[string]any{"jbo": "web"})
	e = decodeData[errorData](t, cl.until("start_job_response"))
	require.Contains(t, e.Error, `unknown field "jbo"`)

	cl.send("list_jobs_request", struct{}{})
	cl.until("list_jobs_response")
}

// A client that stops reading is cut off once a message waits on it for
// the write timeout; a client that reads keeps getting every event.
func TestClientThatNeverReadsIsCutOff(t *testing.T) {
	w := newWorld(t, "", map[string]string{"web": running})
	w.srv.WriteTimeout = 200 * time.Millisecond
	deaf := w.connectBuffered(0)
	require.Equal(t, TypeHello, deaf.next().Type)
	deaf.send(TypeRegisterControl, Register{Version: "1.0.0"})
	require.Equal(t, TypeReady, deaf.next().Type)
	good := w.register("")
	good.send("stop_job_request", jobData{Job: "web"})
	good.until("stop_job_response")
	select {
	case <-deaf.done:
	case <-time.After(5 * time.Second):
		t.Fatal("the client that never reads is still connected")
	}
	require.Equal(t, 1, w.srv.Active())
	good.send("start_job_request", jobData{Job: "web"})
	require.Equal(t, TypeJobUpdate, good.next().Type)
}

// A burst of changes larger than a client's event buffer loses it events,
// not its connection: it is told (events_lost_event) and sent every job
// as it is (jobs_snapshot_event), and events go on from there.
func TestFallingBehindResyncs(t *testing.T) {
	w := newWorld(t, "", map[string]string{"web": `{"cmd":"/bin/sleep 100","starttime":0,"numprocs":20}`})
	w.srv.EventBuffer = 4
	cl := w.connectBuffered(0) // the test reads only when it wants to
	require.Equal(t, TypeHello, cl.next().Type)
	cl.send(TypeRegisterControl, Register{Version: "1.0.0"})
	require.Equal(t, TypeReady, cl.next().Type)
	cl.send("stop_job_request", jobData{Job: "web"})
	require.Eventually(t, func() bool {
		st, err := w.sup.Status(t.Context(), "web")
		return err == nil && st[0].State == "STOPPED"
	}, 5*time.Second, time.Millisecond)
	// 40 events came while the writer waited on the test.
	lost := decodeData[eventsLostData](t, cl.until(TypeEventsLost))
	require.Equal(t, 4, lost.Behind)
	snap := decodeData[listJobsData](t, cl.until(TypeJobsSnapshot))
	require.Equal(t, 4, snap.Lost)
	require.Len(t, snap.Instances, 20)
	for _, in := range snap.Instances {
		require.Equal(t, "STOPPED", in.State)
	}
	cl.until("stop_job_response")
	cl.send("start_job_request", jobData{Job: "web:3"})
	ev := decodeData[instanceData](t, cl.until(TypeJobUpdate))
	require.Equal(t, "web:3", ev.Instance)
	require.Equal(t, 1, w.srv.Active())
}

// Output: tail_request returns what is kept; subscribe_output_request
// streams what comes after, as output_events.
func TestTailAndOutputEvents(t *testing.T) {
	w := newWorld(t, "", map[string]string{"web": `{"cmd":"/bin/sleep 100","starttime":0}`})
	cl := w.register("")
	cl.send("tail_request", tailData{Job: "web:0"})
	tail := decodeData[outputData](t, cl.until("tail_response"))
	require.Equal(t, "hello from web:0\n", tail.Data)

	cl.send("subscribe_output_request", subscribeData{Job: "web"})
	sub := decodeData[subscribedData](t, cl.until("subscribe_output_response"))
	require.Equal(t, []string{"web:0"}, sub.Instances)
	cl.send("restart_job_request", jobData{Job: "web"}) // a new process writes a line
	m := cl.until(TypeOutput)
	out := decodeData[outputData](t, m)
	require.Equal(t, "web:0", out.Instance)
	require.Equal(t, "output", out.Stream)
	require.Equal(t, "hello from web:0\n", out.Data)
	require.Greater(t, out.Next, tail.Next)

	cl.send("unsubscribe_output_request", jobData{Job: "web"})
	res := decodeData[map[string]any](t, cl.until("unsubscribe_output_response"))
	require.Equal(t, "success", res["result"])
}

// Job files: push adds a job (a job_file_event says so), pull reads it
// back, delete removes it.
func TestJobFileRequests(t *testing.T) {
	w := newWorld(t, "", nil)
	cl := w.register("")
	body := `{"cmd":"/bin/sleep 100","autostart":false}`
	cl.send("push_job_file_request", fileData{Job: "api", Content: body})
	ev := decodeData[jobFileData](t, cl.until(TypeJobFile))
	require.Equal(t, "api", ev.Job)
	require.Equal(t, "added", ev.Change)
	cl.until("push_job_file_response")
	cl.send("pull_job_file_request", jobData{Job: "api"})
	f := decodeData[fileData](t, cl.until("pull_job_file_response"))
	require.Equal(t, body, f.Content)
	cl.send("push_job_file_request", fileData{Job: "bad", Content: `{"cmd":`})
	e := decodeData[errorData](t, cl.until("push_job_file_response"))
	require.NotEmpty(t, e.Error)
	cl.send("delete_job_file_request", jobData{Job: "api"})
	require.Equal(t, "removed", decodeData[jobFileData](t, cl.until(TypeJobFile)).Change)
}

// Shutdown tells every client why it is closed.
func TestShutdownClosesWithAReason(t *testing.T) {
	w := newWorld(t, "", nil)
	cl := w.register("")
	go w.srv.Shutdown(t.Context())
	require.Equal(t, "taskmasterd is shutting down", cl.closed())
}

// After the handshake, garbage ends the connection with a reason.
func TestInvalidJSONAfterHandshake(t *testing.T) {
	w := newWorld(t, "", nil)
	cl := w.register("")
	cl.sendRaw([]byte("not json"))
	require.True(t, strings.HasPrefix(cl.closed(), "invalid JSON"))
	_ = json.Valid
}

// signal_job_request sends a signal to the job's process groups, as the
// control protocol's signal does: the fake processes end on any signal,
// which the events show.
func TestSignalJob(t *testing.T) {
	w := newWorld(t, "", map[string]string{
		"web":  `{"cmd":"/bin/sleep 100","starttime":0,"autorestart":false}`,
		"idle": `{"cmd":"/bin/sleep 100","autostart":false}`,
	})
	cl := w.register("")
	seq := cl.send("signal_job_request", signalData{Job: "web", Signal: "HUP"})
	type update struct {
		Instance string `json:"instance"`
		State    string `json:"state"`
		Signal   string `json:"signal"`
	}
	type response struct {
		Seq    int64  `json:"seq"`
		Result string `json:"result"`
	}
	var res response
	var ev update
	for ev.Signal == "" || res.Seq == 0 {
		switch m := cl.next(); m.Type {
		case "signal_job_response":
			res = decodeData[response](t, m)
		case TypeJobUpdate:
			ev = decodeData[update](t, m)
		}
	}
	require.Equal(t, update{Instance: "web:0", State: "EXITED", Signal: "SIGHUP"}, ev)
	require.Equal(t, response{Seq: seq, Result: "success"}, res)

	cl.send("signal_job_request", signalData{Job: "idle", Signal: "USR2"})
	require.Equal(t, "redundant", decodeData[response](t, cl.until("signal_job_response")).Result)
	cl.send("signal_job_request", signalData{Job: "idle", Signal: "FOO"})
	require.Contains(t, decodeData[errorData](t, cl.until("signal_job_response")).Error, `signal: unknown signal "FOO"`)
	cl.send("signal_job_request", signalData{Job: "idle"})
	require.Equal(t, "signal_job_request: missing signal", decodeData[errorData](t, cl.until("signal_job_response")).Error)
}

// The writer's messages share a context for a tenth of the write timeout,
// each with at least the whole timeout ahead of it; the next one is new,
// and the one it replaces ends.
func TestWriterContextIsRenewed(t *testing.T) {
	srv := &Server{WriteTimeout: time.Second}
	ss := newSession(context.Background(), srv, nil)
	defer ss.cancel()
	before := time.Now()
	first := ss.writeContext()
	require.Same(t, first, ss.writeContext(), "renewed within a tenth of the timeout")
	d, ok := first.Deadline()
	require.True(t, ok)
	require.False(t, d.Before(before.Add(time.Second)), "less than the write timeout ahead")
	require.False(t, d.After(time.Now().Add(1100*time.Millisecond)), "more than a tenth over the write timeout")

	ss.wrenew = before // a tenth of the timeout has gone by
	second := ss.writeContext()
	require.NotSame(t, first, second)
	require.ErrorIs(t, first.Err(), context.Canceled, "the context replaced lives on")
	require.NoError(t, second.Err())
}
