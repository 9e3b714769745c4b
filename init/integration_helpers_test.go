package pid1_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// allowedKinds are the replies docs/protocol.md (Commands) allows for each
// command. Every request the integration test sends is well formed, so
// invalid is not among them: an invalid reply to a valid request is a bug.
var allowedKinds = map[ctlproto.Command][]ctlproto.Kind{
	ctlproto.CmdStart:   {ctlproto.KindSuccess, ctlproto.KindRedundant, ctlproto.KindFail},
	ctlproto.CmdStop:    {ctlproto.KindSuccess, ctlproto.KindRedundant, ctlproto.KindFail},
	ctlproto.CmdKill:    {ctlproto.KindSuccess, ctlproto.KindRedundant, ctlproto.KindFail},
	ctlproto.CmdRepair:  {ctlproto.KindSuccess, ctlproto.KindRedundant, ctlproto.KindFail},
	ctlproto.CmdStatus:  {ctlproto.KindStatus, ctlproto.KindFail},
	ctlproto.CmdPull:    {ctlproto.KindFile, ctlproto.KindFail},
	ctlproto.CmdPush:    {ctlproto.KindSuccess, ctlproto.KindFail},
	ctlproto.CmdList:    {ctlproto.KindList},
	ctlproto.CmdReload:  {ctlproto.KindSuccess, ctlproto.KindFail},
	ctlproto.CmdRestart: {ctlproto.KindSuccess, ctlproto.KindFail},
	ctlproto.CmdTail:    {ctlproto.KindFile, ctlproto.KindFail},
	ctlproto.CmdWait:    {ctlproto.KindSuccess, ctlproto.KindFail},
}

// tooManyConns is the documented reason a connection over the cap gets.
const tooManyConns = "too many connections"

// evicted is the documented reply of an idle connection the server closed
// to make room for a newcomer (docs/protocol.md): it answers whatever
// request the client sends next, which is not carried out.
const evicted = "evicted: too many connections"

// statusJob is a job of the status JSON (docs/protocol.md, Status JSON).
type statusJob struct {
	Name      string          `json:"name"`
	State     string          `json:"state"`
	Healthy   *bool           `json:"healthy"`
	Error     string          `json:"error"`
	Processes []statusProcess `json:"processes"`
}

// statusProcess is a process of the status JSON.
type statusProcess struct {
	Name  string `json:"name"`
	Pid   *int   `json:"pid"`
	State string `json:"state"`
}

// tailData is the data of a tail reply (docs/protocol.md, tail).
type tailData struct {
	Output    *[]byte `json:"output"`
	Next      *uint64 `json:"next"`
	Truncated *bool   `json:"truncated"`
}

// tally counts replies and collects problems from many goroutines. It never
// calls t: only the test goroutine reports. Problems are grouped by kind,
// each kind with its count and its first example.
type tally struct {
	mu       sync.Mutex
	kinds    map[string]int // "command kind" -> count
	problems map[string]*problem
	order    []string
}

type problem struct {
	count   int
	example string
}

func newTally() *tally { return &tally{kinds: map[string]int{}, problems: map[string]*problem{}} }

func (t *tally) count(cmd ctlproto.Command, kind string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.kinds[string(cmd)+" "+kind]++
}

// problem records a problem of the given kind.
func (t *tally) problem(kind, format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.problems[kind]
	if p == nil {
		p = &problem{example: fmt.Sprintf(format, args...)}
		t.problems[kind] = p
		t.order = append(t.order, kind)
	}
	p.count++
}

// report fails the test with every kind of problem, and logs the counts.
func (t *tally) report(tb testing.TB) {
	t.mu.Lock()
	defer t.mu.Unlock()
	keys := make([]string, 0, len(t.kinds))
	total := 0
	for k, n := range t.kinds {
		keys = append(keys, k)
		total += n
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-36s %d\n", k, t.kinds[k])
	}
	tb.Logf("%d replies:\n%s", total, b.String())
	for _, kind := range t.order {
		p := t.problems[kind]
		tb.Errorf("%s: %d times, first: %s", kind, p.count, p.example)
	}
}

// checkReply checks that resp is a reply docs/protocol.md allows for req and
// that its payload is well formed. staticFiles are the job files the test
// wrote and never changes; pushed are the valid versions of pushed files.
func checkReply(req *ctlproto.Request, resp *ctlproto.Response, staticFiles map[string][]byte, pushed [][]byte) error {
	if !slices.Contains(allowedKinds[req.Command], resp.Kind) {
		return &kindError{req.Command, resp.Kind, fmt.Sprintf("%s %q: reply %q (error %q) is not one of %v", req.Command, req.Job, resp.Kind, resp.Error, allowedKinds[req.Command])}
	}
	switch resp.Kind {
	case ctlproto.KindFail:
		switch resp.Error {
		case "":
			return fmt.Errorf("%s %q: fail without a reason", req.Command, req.Job)
		case "internal error":
			return fmt.Errorf("%s %q: fail %q: the handler panicked or gave no reply", req.Command, req.Job, resp.Error)
		}
	case ctlproto.KindStatus:
		return checkStatus(req.Job, resp.Data)
	case ctlproto.KindList:
		names, err := ctlproto.DecodeJobList(resp.Data)
		if err != nil {
			return fmt.Errorf("list: payload %q: %v", resp.Data, err)
		}
		for name := range staticFiles {
			if !slices.Contains(names, name) {
				return fmt.Errorf("list: %v lacks %s", names, name)
			}
		}
	case ctlproto.KindFile:
		if resp.Job != req.Job {
			return fmt.Errorf("%s %q: file reply names job %q", req.Command, req.Job, resp.Job)
		}
		if req.Command == ctlproto.CmdTail {
			return checkTail(req.Job, resp.Data)
		}
		return checkPulled(req.Job, resp.Data, staticFiles, pushed)
	}
	return nil
}

// kindError is a reply of a kind the protocol does not allow for its
// command.
type kindError struct {
	cmd  ctlproto.Command
	kind ctlproto.Kind
	msg  string
}

func (e *kindError) Error() string { return e.msg }

func checkStatus(target string, data []byte) error {
	if target == "" || target == "all" {
		var all struct {
			Jobs *[]statusJob `json:"jobs"`
		}
		if err := json.Unmarshal(data, &all); err != nil || all.Jobs == nil {
			return fmt.Errorf("status %q: payload %q is not {\"jobs\":[...]} (%v)", target, data, err)
		}
		for _, j := range *all.Jobs {
			if err := checkJob(j); err != nil {
				return fmt.Errorf("status %q: %v", target, err)
			}
		}
		return nil
	}
	var j statusJob
	if err := json.Unmarshal(data, &j); err != nil {
		return fmt.Errorf("status %q: payload %q: %v", target, data, err)
	}
	name, _, _ := strings.Cut(target, ":")
	if j.Name != name {
		return fmt.Errorf("status %q: answered job %q", target, j.Name)
	}
	return checkJob(j)
}

func checkJob(j statusJob) error {
	if j.Name == "" || j.State == "" || j.Healthy == nil {
		return fmt.Errorf("job %+v lacks name, state or healthy", j)
	}
	for _, p := range j.Processes {
		if !strings.HasPrefix(p.Name, j.Name+":") || p.State == "" || p.Pid == nil {
			return fmt.Errorf("job %s: malformed process %+v", j.Name, p)
		}
	}
	return nil
}

func checkTail(target string, data []byte) error {
	var d tailData
	if err := json.Unmarshal(data, &d); err != nil {
		return fmt.Errorf("tail %q: payload %q: %v", target, data, err)
	}
	if d.Output == nil || d.Next == nil || d.Truncated == nil {
		return fmt.Errorf("tail %q: payload %q lacks output, next or truncated", target, data)
	}
	return nil
}

func checkPulled(job string, data []byte, staticFiles map[string][]byte, pushed [][]byte) error {
	if want, ok := staticFiles[job]; ok {
		if !bytes.Equal(data, want) {
			return fmt.Errorf("pull %s: got %q, want %q", job, data, want)
		}
		return nil
	}
	if !slices.ContainsFunc(pushed, func(p []byte) bool { return bytes.Equal(p, data) }) {
		return fmt.Errorf("pull %s: %q is no version ever pushed", job, data)
	}
	return nil
}

// children returns the processes whose parent is this process, with their
// state letter (Z for a zombie), from /proc.
func children() map[int]string {
	self := os.Getpid()
	entries, _ := os.ReadDir("/proc")
	out := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		end := bytes.LastIndexByte(stat, ')')
		if end < 0 {
			continue
		}
		f := bytes.Fields(stat[end+1:])
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(string(f[1])); ppid == self {
			out[pid] = string(f[0]) + " " + string(stat[:end+1])
		}
	}
	return out
}

// allStacks returns the stacks of every goroutine.
func allStacks() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

// testLog is the daemon's logger in the test: it finds the control address
// in the "control server listening" line (the test listens on port 0), and
// passes warnings and errors to t.Log, a bounded number of them, until
// closed (t.Log after the test has ended would panic).
type testLog struct {
	t     testing.TB
	addr  chan string
	mu    *sync.Mutex
	state *testLogState
	attrs []slog.Attr
}

type testLogState struct {
	closed bool
	lines  int
	held   int
}

const testLogLines = 30

func newTestLog(t testing.TB) *testLog {
	return &testLog{t: t, addr: make(chan string, 1), mu: &sync.Mutex{}, state: &testLogState{}}
}

func (h *testLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *testLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "control server listening" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "addr" {
				select {
				case h.addr <- a.Value.String():
				default:
				}
			}
			return true
		})
	}
	if r.Level < slog.LevelWarn {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "taskmasterd %s %s", r.Level, r.Message)
	for _, a := range h.attrs {
		fmt.Fprintf(&b, " %s", a)
	}
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s", a)
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.state.closed:
	case h.state.lines < testLogLines:
		h.state.lines++
		h.t.Log(b.String())
	default:
		h.state.held++
	}
	return nil
}

func (h *testLog) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clip(h.attrs), attrs...)
	return &c
}

func (h *testLog) WithGroup(string) slog.Handler { return h }

// close stops passing lines to t, and says how many were held back.
func (h *testLog) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state.held > 0 {
		h.t.Logf("taskmasterd: %d more warnings not shown", h.state.held)
	}
	h.state.closed = true
}
