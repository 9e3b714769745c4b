package control_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/output"
)

// tailJSON is the data of a tail reply.
func tailJSON(out string, next int, truncated bool) string {
	return fmt.Sprintf(`{"output":"%s","next":%d,"truncated":%t}`, b64(out), next, truncated)
}

// Without data, tail answers everything the ring holds and where it ends.
func TestTailAll(t *testing.T) {
	r := newRig(t)
	ring := output.NewRing(1024)
	const out = "line one\nline \xff two\n"
	ring.Write([]byte(out))
	r.sup.setRing(ring)
	require.Equal(t, fileReply("web", tailJSON(out, len(out), false)), r.exchange(request("tail", "web", "")))
	require.Equal(t, fileReply("web:1", tailJSON(out, len(out), false)),
		r.exchange(`{"cmd":"tail","job":"d2ViOjE=","data":""};;`))
	require.Equal(t, []string{"output web", "output web:1"}, r.sup.Log())
}

// after asks for what came after a position; nothing new is an empty
// output (a string, not null) and the same next.
func TestTailAfter(t *testing.T) {
	r := newRig(t)
	ring := output.NewRing(1024)
	ring.Write([]byte("one\n"))
	ring.Write([]byte("two\n"))
	r.sup.setRing(ring)
	require.Equal(t, fileReply("web", tailJSON("two\n", 8, false)), r.exchange(request("tail", "web", `{"after":4}`)))
	require.Equal(t, fileReply("web", tailJSON("", 8, false)), r.exchange(request("tail", "web", `{"after":8}`)))
	// A position beyond the output comes from an instance a reload replaced:
	// the reader gets what is kept, marked truncated.
	require.Equal(t, fileReply("web", tailJSON("one\ntwo\n", 8, true)), r.exchange(request("tail", "web", `{"after":100}`)))
}

// Output the ring dropped is reported as truncated.
func TestTailTruncated(t *testing.T) {
	r := newRig(t)
	ring := output.NewRing(10)
	ring.Write([]byte("first line\n"))
	ring.Write([]byte("second\n"))
	r.sup.setRing(ring)
	kept, next, truncated := ring.Since(0)
	require.True(t, truncated)
	require.Equal(t, fileReply("web", tailJSON(string(kept), int(next), true)), r.exchange(request("tail", "web", "")))
}

// With follow, tail waits for output after "after" and answers it as soon
// as it comes.
func TestTailFollow(t *testing.T) {
	r := newRig(t)
	ring := output.NewRing(1024)
	ring.Write([]byte("old line\n"))
	r.sup.setRing(ring)
	called := make(chan struct{})
	var once sync.Once
	r.sup.on("output", func(context.Context, string) error {
		once.Do(func() { close(called) })
		return nil
	})
	go func() {
		select {
		case <-called:
		case <-t.Context().Done():
			return
		}
		// The new line comes a while after the request is in.
		select {
		case <-time.After(50 * time.Millisecond):
		case <-t.Context().Done():
			return
		}
		ring.Write([]byte("new line\n"))
	}()
	start := time.Now()
	got := r.exchange(request("tail", "web", `{"after":9,"follow":true,"timeout_ms":20000}`))
	elapsed := time.Since(start)
	require.Equal(t, fileReply("web", tailJSON("new line\n", 18, false)), got)
	require.GreaterOrEqual(t, elapsed, 50*time.Millisecond)
	require.Less(t, elapsed, 10*time.Second, "answered at the timeout, not when the output came")
}

// With follow and output already there, tail answers at once.
func TestTailFollowAlreadyThere(t *testing.T) {
	r := newRig(t)
	ring := output.NewRing(1024)
	ring.Write([]byte("one\ntwo\n"))
	r.sup.setRing(ring)
	start := time.Now()
	require.Equal(t, fileReply("web", tailJSON("two\n", 8, false)),
		r.exchange(request("tail", "web", `{"after":4,"follow":true,"timeout_ms":20000}`)))
	require.Less(t, time.Since(start), 10*time.Second)
}

// With follow and nothing new within timeout_ms, tail answers an empty
// output and the same next.
func TestTailFollowTimeout(t *testing.T) {
	r := newRig(t)
	ring := output.NewRing(1024)
	ring.Write([]byte("abc\n"))
	r.sup.setRing(ring)
	start := time.Now()
	got := r.exchange(request("tail", "web", `{"after":4,"follow":true,"timeout_ms":100}`))
	require.Equal(t, fileReply("web", tailJSON("", 4, false)), got)
	require.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
}

func TestTailFail(t *testing.T) {
	r := newRig(t)
	r.sup.fail("output", "ghost", fmt.Errorf("%w: %q", jobs.ErrNoSuchJob, "ghost"))
	require.Equal(t, failReply(`no such job: "ghost"`), r.exchange(request("tail", "ghost", "")))

	for _, data := range []string{"follow", `{"after":-1}`, `{"follow":"yes"}`} {
		resp := decodeReply(t, r.exchange(request("tail", "web", data)))
		require.Equal(t, "fail", string(resp.Kind), data)
		require.True(t, strings.HasPrefix(resp.Error, `tail: data must be JSON like {"after":0,"follow":true}: `), resp.Error)
	}
	require.Equal(t, []string{"output ghost"}, r.sup.Log(), "bad data never reaches the supervisor")
}

// wait passes the parsed state on, with a deadline timeout_ms away.
func TestWait(t *testing.T) {
	for _, tt := range []struct {
		data    string
		state   jobs.State
		timeout time.Duration
	}{
		{`{"state":"RUNNING","timeout_ms":1500}`, jobs.Running, 1500 * time.Millisecond},
		{`{"state":"STOPPED"}`, jobs.Stopped, 30 * time.Second},
		{`{"state":"FATAL","timeout_ms":0}`, jobs.Fatal, 30 * time.Second},
		{` { "timeout_ms" : 60000 , "state" : "EXITED" } `, jobs.Exited, time.Minute},
	} {
		t.Run(tt.data, func(t *testing.T) {
			r := newRig(t)
			before := time.Now()
			require.Equal(t, success, r.exchange(request("wait", "web", tt.data)))
			after := time.Now()
			calls := r.sup.Calls()
			require.Len(t, calls, 1)
			require.Equal(t, "wait web "+tt.state.String(), calls[0].String())
			dl := calls[0].Deadline
			require.False(t, dl.Before(before.Add(tt.timeout)), "deadline %v, sent at %v", dl, before)
			require.False(t, dl.After(after.Add(tt.timeout)), "deadline %v, answered at %v", dl, after)
		})
	}
}

// wait for READY waits with WaitReady, and says so when it times out.
func TestWaitReady(t *testing.T) {
	r := newRig(t)
	require.Equal(t, success, r.exchange(request("wait", "db", `{"state":"READY","timeout_ms":1500}`)))
	require.Equal(t, []string{"wait-ready db"}, r.sup.Log())
	r.sup.on("wait-ready", func(ctx context.Context, target string) error {
		<-ctx.Done()
		return fmt.Errorf("wait %s: %w", target, ctx.Err())
	})
	require.Equal(t, failReply("db did not reach READY within 100ms"),
		r.exchange(request("wait", "db", `{"state":"READY","timeout_ms":100}`)))
	r.sup.on("wait-ready", func(ctx context.Context, target string) error {
		return fmt.Errorf("db:0: %w: FATAL: not ready after 1s", jobs.ErrNotReady)
	})
	require.Equal(t, failReply("db:0: will not become ready: FATAL: not ready after 1s"),
		r.exchange(request("wait", "db", `{"state":"READY"}`)))
}

// wait answers what the supervisor's Wait says, and a timeout in words.
func TestWaitOutcomes(t *testing.T) {
	r := newRig(t)
	r.sup.fail("wait", "db", fmt.Errorf("wait db: %w", jobs.ErrRedundant))
	require.Equal(t, redundant, r.exchange(request("wait", "db", `{"state":"RUNNING"}`)))
	r.sup.fail("wait", "ghost", fmt.Errorf("%w: %q", jobs.ErrNoSuchJob, "ghost"))
	require.Equal(t, failReply(`no such job: "ghost"`), r.exchange(request("wait", "ghost", `{"state":"RUNNING"}`)))

	r.sup.on("wait", func(ctx context.Context, target string) error {
		<-ctx.Done()
		return fmt.Errorf("wait %s: %w", target, ctx.Err())
	})
	require.Equal(t, failReply("web did not reach RUNNING within 100ms"),
		r.exchange(request("wait", "web", `{"state":"RUNNING","timeout_ms":100}`)))
}

// Bad wait data is refused without reaching the supervisor.
func TestWaitBadData(t *testing.T) {
	r := newRig(t)
	for _, tt := range []struct{ data, prefix string }{
		{`RUNNING`, `wait: data must be JSON like {"state":"RUNNING","timeout_ms":30000}: `},
		{`{"state":"RUNNING"`, `wait: data must be JSON like {"state":"RUNNING","timeout_ms":30000}: `},
		{`{"state":1}`, `wait: data must be JSON like {"state":"RUNNING","timeout_ms":30000}: `},
		{`{"state":"running"}`, `wait: unknown state "running"`},
		{`{"state":"UNKNOWN"}`, `wait: unknown state "UNKNOWN"`},
		{`{}`, `wait: unknown state ""`},
	} {
		resp := decodeReply(t, r.exchange(request("wait", "web", tt.data)))
		require.Equal(t, "fail", string(resp.Kind), tt.data)
		require.True(t, strings.HasPrefix(resp.Error, tt.prefix), "%s: %s", tt.data, resp.Error)
	}
	require.Equal(t, failReply(`wait: unknown state "running"`),
		r.exchange(request("wait", "web", `{"state":"running","timeout_ms":5}`)))
	require.Empty(t, r.sup.Log())
	// wait without data is a request the protocol refuses.
	require.Equal(t, invalidReply("wait needs data"), r.exchange(request("wait", "web", "")))
	require.Empty(t, r.sup.Log())
}
