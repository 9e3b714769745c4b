package control_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/control"
	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/attach"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/output"
)

// call is one call the handler made to the fake supervisor.
type call struct {
	Method   string         // "start", "stop", "kill", "repair", "status", "names", "reload", "wait", "output"
	Target   string         // the target or name passed
	State    jobs.State     // for wait
	Signal   syscall.Signal // for signal
	Deadline time.Time      // the context's deadline; zero when it has none
}

// String is the call as the tests compare it: "stop web", "wait web RUNNING".
func (c call) String() string {
	s := c.Method + " " + c.Target
	if c.Method == "wait" {
		s += " " + c.State.String()
	}
	if c.Method == "signal" {
		s += " " + jobfile.SignalName(c.Signal)
	}
	return s
}

// hook runs in place of a fake method's scripted result.
type hook func(ctx context.Context, target string) error

// fakeSup is a control.Supervisor whose results the test scripts and whose
// calls it records. A call's result is its hook's, if the method has one,
// else results[method+" "+target] (nil when absent).
type fakeSup struct {
	mu      sync.Mutex
	calls   []call
	results map[string]error
	hooks   map[string]hook
	status  []jobs.JobStatus
	names   []string
	ring    *output.Ring
	point   *attach.Point // what Attach attaches to
}

var _ control.Supervisor = (*fakeSup)(nil)

func newFakeSup() *fakeSup {
	return &fakeSup{results: map[string]error{}, hooks: map[string]hook{}, ring: output.NewRing(1024), point: attach.NewPoint()}
}

// fail scripts the result of method on target.
func (f *fakeSup) fail(method, target string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[method+" "+target] = err
}

// on replaces method's scripted results with h.
func (f *fakeSup) on(method string, h hook) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hooks[method] = h
}

func (f *fakeSup) setStatus(st []jobs.JobStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = st
}

func (f *fakeSup) setNames(names ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.names = names
}

func (f *fakeSup) setRing(r *output.Ring) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ring = r
}

// record logs a call and returns its result.
func (f *fakeSup) record(ctx context.Context, c call) error {
	c.Deadline, _ = ctx.Deadline()
	f.mu.Lock()
	f.calls = append(f.calls, c)
	h, err := f.hooks[c.Method], f.results[c.Method+" "+c.Target]
	f.mu.Unlock()
	if h != nil {
		return h(ctx, c.Target)
	}
	return err
}

// Calls returns the calls so far.
func (f *fakeSup) Calls() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// Log returns the calls so far as strings ("stop web"); never nil.
func (f *fakeSup) Log() []string {
	out := []string{}
	for _, c := range f.Calls() {
		out = append(out, c.String())
	}
	return out
}

func (f *fakeSup) Start(ctx context.Context, target string) error {
	return f.record(ctx, call{Method: "start", Target: target})
}

func (f *fakeSup) Stop(ctx context.Context, target string) error {
	return f.record(ctx, call{Method: "stop", Target: target})
}

func (f *fakeSup) Kill(ctx context.Context, target string) error {
	return f.record(ctx, call{Method: "kill", Target: target})
}

func (f *fakeSup) Repair(ctx context.Context, target string) error {
	return f.record(ctx, call{Method: "repair", Target: target})
}

func (f *fakeSup) Status(ctx context.Context, target string) ([]jobs.JobStatus, error) {
	if err := f.record(ctx, call{Method: "status", Target: target}); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, nil
}

func (f *fakeSup) Names(ctx context.Context) ([]string, error) {
	if err := f.record(ctx, call{Method: "names"}); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.names, nil
}

func (f *fakeSup) Reload(ctx context.Context, only string) error {
	return f.record(ctx, call{Method: "reload", Target: only})
}

// Settled answers at once and is not recorded: the real one waits for the
// processes a reload stopped and started, which the fake has none of.
func (f *fakeSup) Settled(ctx context.Context, target string) error { return nil }

func (f *fakeSup) Wait(ctx context.Context, target string, state jobs.State) error {
	return f.record(ctx, call{Method: "wait", Target: target, State: state})
}

func (f *fakeSup) WaitReady(ctx context.Context, target string) error {
	return f.record(ctx, call{Method: "wait-ready", Target: target})
}

func (f *fakeSup) Output(ctx context.Context, target string) (*output.Ring, error) {
	if err := f.record(ctx, call{Method: "output", Target: target}); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ring, nil
}

func (f *fakeSup) Signal(ctx context.Context, target string, sig syscall.Signal) error {
	return f.record(ctx, call{Method: "signal", Target: target, Signal: sig})
}

// Attach attaches to f.point, as instance target.
func (f *fakeSup) Attach(ctx context.Context, target string, buffer int) (*attach.Session, string, error) {
	if err := f.record(ctx, call{Method: "attach", Target: target}); err != nil {
		return nil, "", err
	}
	s, err := f.point.Attach(buffer)
	return s, target, err
}

// rig is a real ctlproto.Server answering with control.New(sup, dir) on a
// loopback port, and a raw connection to it.
type rig struct {
	t      *testing.T
	parent string // the parent of the jobs directory
	dir    string // the jobs directory
	sup    *fakeSup
	h      *control.Handler
	addr   string
	conn   net.Conn
}

func newRig(t *testing.T) *rig {
	t.Helper()
	parent := t.TempDir()
	dir := filepath.Join(parent, "jobs")
	require.NoError(t, os.Mkdir(dir, 0o755))
	sup := newFakeSup()
	h := control.New(sup, dir)
	srv := &ctlproto.Server{Handler: h}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		require.ErrorIs(t, <-served, ctlproto.ErrServerClosed)
	})
	r := &rig{t: t, parent: parent, dir: dir, sup: sup, h: h, addr: l.Addr().String()}
	r.conn = r.dial()
	return r
}

// dial opens another raw connection to the server.
func (r *rig) dial() net.Conn {
	r.t.Helper()
	c, err := net.Dial("tcp", r.addr)
	require.NoError(r.t, err)
	require.NoError(r.t, c.SetDeadline(time.Now().Add(10*time.Second)))
	r.t.Cleanup(func() { c.Close() })
	return c
}

// exchange writes send as raw bytes and returns the raw reply.
func (r *rig) exchange(send string) string {
	r.t.Helper()
	_, err := r.conn.Write([]byte(send))
	require.NoError(r.t, err)
	return readReply(r.t, r.conn)
}

// path returns the job file of name in the jobs directory.
func (r *rig) path(name string) string {
	return filepath.Join(r.dir, name+".tm.json")
}

// writeJob puts a job file into the jobs directory.
func (r *rig) writeJob(name string, data []byte) {
	r.t.Helper()
	require.NoError(r.t, os.WriteFile(r.path(name), data, 0o644))
}

// readReply reads raw bytes up to and including the first ";;", and checks
// what every reply must be: one JSON object naming a response kind, without
// any whitespace, followed directly by ";;".
func readReply(t *testing.T, c net.Conn) string {
	t.Helper()
	var got []byte
	one := make([]byte, 1)
	for !bytes.HasSuffix(got, []byte(";;")) {
		_, err := c.Read(one)
		require.NoError(t, err, "read so far: %q", got)
		got = append(got, one[0])
	}
	requireWellFormed(t, got)
	return string(got)
}

func requireWellFormed(t *testing.T, reply []byte) {
	t.Helper()
	require.True(t, bytes.HasPrefix(reply, []byte(`{"response":"`)), "reply %q", reply)
	require.True(t, bytes.HasSuffix(reply, []byte("};;")), "reply %q", reply)
	require.Equal(t, -1, bytes.IndexAny(reply, " \t\r\n\v\f"), "whitespace in reply %q", reply)
	body := reply[:len(reply)-2]
	require.True(t, json.Valid(body), "reply %q", reply)
	var obj map[string]string
	require.NoError(t, json.Unmarshal(body, &obj), "reply %q: every value is a string", reply)
	for k, v := range obj {
		if k != "response" {
			_, err := base64.StdEncoding.DecodeString(v)
			require.NoError(t, err, "reply %q: %q is not padded standard base64", reply, k)
		}
	}
}

// decodeReply returns a reply's fields, base64 decoded.
func decodeReply(t *testing.T, reply string) *ctlproto.Response {
	t.Helper()
	resp, err := ctlproto.DecodeResponse([]byte(reply[:len(reply)-2]))
	require.NoError(t, err)
	return resp
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// request is a request with all three keys, as ctlproto.Client sends it.
func request(cmd, job, data string) string {
	return `{"command":"` + cmd + `","job":"` + b64(job) + `","data":"` + b64(data) + `"};;`
}

// The byte-exact replies.
const (
	success   = `{"response":"success"};;`
	redundant = `{"response":"redundant"};;`
)

func failReply(msg string) string { return `{"response":"fail","error":"` + b64(msg) + `"};;` }

func invalidReply(msg string) string { return `{"response":"invalid","error":"` + b64(msg) + `"};;` }

func statusReply(data string) string { return `{"response":"status","data":"` + b64(data) + `"};;` }

func fileReply(job, data string) string {
	return `{"response":"file","job":"` + b64(job) + `","data":"` + b64(data) + `"};;`
}

func listReply(data string) string {
	return `{"response":"list","data":"` + b64(data) + `","list":"` + b64(data) + `"};;`
}

// fileState is what a snapshot records of one file or directory.
type fileState struct {
	Mode    fs.FileMode
	Ino     uint64
	ModTime time.Time
	Content string
}

// snapshot records every file and directory under root, so that a test can
// tell that nothing was created, removed, replaced or written (a temporary
// file created and removed again changes its directory's mtime).
func snapshot(t *testing.T, root string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := os.Lstat(path)
		if err != nil {
			return err
		}
		st := fileState{Mode: info.Mode(), Ino: info.Sys().(*syscall.Stat_t).Ino, ModTime: info.ModTime()}
		if info.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			st.Content = string(data)
		}
		rel, _ := filepath.Rel(root, path)
		out[rel] = st
		return nil
	})
	require.NoError(t, err)
	return out
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	return info.Sys().(*syscall.Stat_t).Ino
}
