package link

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskmaster/taskmaster/internal/jsonx"
	"github.com/taskmaster/taskmaster/jobs"
)

// session is one connection, from hello to close.
type session struct {
	srv    *Server
	conn   Conn
	ctx    context.Context // ends with the session
	cancel context.CancelFunc
	seq    atomic.Int64 // the numbers of the messages taskmasterd sends
	sub    atomic.Pointer[jobs.Subscription]
	// resyncing is set while the snapshot that follows a loss of events
	// is on its way; written by the writer only.
	resyncing bool
	buf       []byte // the writer's: the event being sent
	// The writer's context for its messages (writeContext), and when it
	// is renewed.
	wctx    context.Context
	wcancel context.CancelFunc
	wrenew  time.Time
	out     chan []byte   // responses and output events, for the writer
	closeC  chan string   // a reason to close with, for the writer
	slots   chan struct{} // requests being carried out
	work    sync.WaitGroup

	mu      sync.Mutex
	follows map[string][]*follow // output followed, by the target asked for

	fleet fleetState // a fleet manager's agents' jobs, as last sent (fleet.go)
	slave *slave     // set by a register_slave admitted (slave.go)
}

func newSession(ctx context.Context, srv *Server, c Conn) *session {
	ctx, cancel := context.WithCancel(ctx)
	return &session{
		srv: srv, conn: c, ctx: ctx, cancel: cancel,
		out:     make(chan []byte, 16),
		closeC:  make(chan string, 1),
		slots:   make(chan struct{}, orDefault(srv.MaxInFlight, DefaultMaxInFlight)),
		follows: make(map[string][]*follow),
	}
}

// run is the whole session: the handshake, then a reader (this goroutine)
// and a writer, until either ends it.
func (ss *session) run() {
	defer ss.cancel()
	if !ss.handshake() {
		return
	}
	defer func() { ss.sub.Load().Close() }()
	ss.srv.active.Add(1)
	defer ss.srv.active.Add(-1)
	written := make(chan struct{})
	go func() {
		defer close(written)
		ss.write()
	}()
	if reason := ss.read(); reason != "" {
		ss.closeWith(reason)
		// The writer sends the close, within its write timeout.
	} else {
		ss.cancel()
	}
	<-written
	ss.cancel()
	ss.work.Wait()
}

// closeWith asks the writer to send close with reason and end the session.
func (ss *session) closeWith(reason string) {
	select {
	case ss.closeC <- reason:
	default: // a close is on its way already
	}
}

// handshake sends hello and waits for register_control. It reports
// whether the client registered; if not, it was sent close with the reason.
func (ss *session) handshake() bool {
	hello := Hello{Version: ProtocolVersion, Server: "taskmasterd", BuildVersion: ss.srv.BuildVersion,
		TokenRequired: ss.srv.Token != ""}
	if ss.writeNow(TypeHello, hello) != nil {
		return false
	}
	timeout := orDefault(ss.srv.HandshakeTimeout, DefaultHandshakeTimeout)
	ctx, cancel := context.WithTimeout(ss.ctx, timeout)
	b, err := ss.conn.Read(ctx)
	cancel()
	if err != nil {
		switch {
		case errors.Is(err, ErrTooLarge):
			ss.refuse(err.Error())
		case ctx.Err() != nil && ss.ctx.Err() == nil:
			ss.refuse(fmt.Sprintf("no register_control within %v", timeout))
		}
		return false
	}
	if reason := ss.register(b); reason != "" {
		ss.refuse(reason)
		return false
	}
	registered(ss.ctx)
	if ss.slave != nil {
		ss.serveSlave() // a fleet agent: the session is its link now
		return false
	}
	sub, err := ss.srv.Events.Subscribe(ss.srv.EventBuffer)
	if err != nil {
		ss.refuse("taskmasterd is shutting down")
		return false
	}
	ss.sub.Store(sub)
	ss.initFleet()
	if ss.writeNow(TypeReady, struct{}{}) != nil {
		sub.Close()
		return false
	}
	return true
}

// register checks the client's first message and returns why it is
// refused, or "".
func (ss *session) register(b []byte) string {
	m, err := decodeMessage(b)
	if err != nil {
		return err.Error()
	}
	var reg Register
	switch m.Type {
	case TypeRegisterControl:
	case TypeRegisterSlave:
		if ss.srv.Slaves == nil {
			return "register_slave: this taskmasterd is not a fleet manager; clients register with register_control"
		}
		return ss.registerSlave(m.Data)
	default:
		return fmt.Sprintf("expected register_control, got %q", m.Type)
	}
	if err := json.Unmarshal(m.Data, &reg); err != nil {
		return fmt.Sprintf("register_control: data must be {token, agent, version}: %v", err)
	}
	if reason := checkVersion(reg.Version); reason != "" {
		return reason
	}
	if host := foreignHost(ss.ctx); host != "" && ss.srv.Token == "" {
		return fmt.Sprintf("register_control: host %q is not one of taskmasterd's names: without -token, the live link "+
			"serves only pages reached by an IP address, localhost, or a name of -http-origins", host)
	}
	if ss.srv.Token != "" && !sameToken(reg.Token, ss.srv.Token) {
		if reg.Token == "" {
			return "authentication required: register_control needs the token"
		}
		return "authentication failed: bad token"
	}
	return ""
}

// checkVersion accepts a client of the same major version.
func checkVersion(v string) string {
	if v == "" {
		return "register_control: missing version (taskmasterd speaks " + ProtocolVersion + ")"
	}
	major, _, _ := strings.Cut(v, ".")
	ours, _, _ := strings.Cut(ProtocolVersion, ".")
	if major != ours {
		return fmt.Sprintf("unsupported version %q: taskmasterd speaks %s", v, ProtocolVersion)
	}
	return ""
}

func (ss *session) refuse(reason string) {
	ss.srv.logger().Warn("live link client refused", "reason", reason)
	writeClose(ss.ctx, ss.conn, ss.seq.Add(1), reason)
}

// read reads requests until the connection ends, and returns the reason
// to close it with, or "" when there is nothing to tell the client.
func (ss *session) read() string {
	for {
		b, err := ss.conn.Read(ss.ctx)
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return err.Error()
			}
			return ""
		}
		m, err := decodeMessage(b)
		if err != nil {
			return err.Error()
		}
		switch {
		case m.Type == TypeClose:
			return ""
		case strings.HasSuffix(m.Type, "_request"):
			if !ss.dispatch(m) {
				return ""
			}
		case strings.HasSuffix(m.Type, "_event"):
			// Events from a client mean nothing to taskmasterd yet.
		case m.Type == TypeRegisterControl || m.Type == TypeRegisterSlave:
			return "already registered"
		default:
			return fmt.Sprintf("unexpected message type %q", m.Type)
		}
	}
}

// dispatch carries out a request in its own goroutine, once one of the
// session's slots is free. It reports false when the session ended.
func (ss *session) dispatch(m *Message) bool {
	select {
	case ss.slots <- struct{}{}:
	case <-ss.ctx.Done():
		return false
	}
	ss.work.Go(func() {
		defer func() { <-ss.slots }()
		ss.handle(m)
	})
	return true
}

// write sends what the session has to send, until it ends: the jobs'
// events (first, so that the response to a request comes after the
// events the request caused), responses and output, and a close.
func (ss *session) write() {
	defer ss.cancel()
	for {
		sub := ss.sub.Load()
		select {
		case ev, ok := <-sub.C:
			if !ss.writeEvent(sub, ev, ok) {
				return
			}
			continue
		default:
		}
		select {
		case ev, ok := <-sub.C:
			if !ss.writeEvent(sub, ev, ok) {
				return
			}
		case b := <-ss.out:
			if ss.send(b) != nil {
				return
			}
		case <-ss.fleet.changed:
			if !ss.fleetChanged() {
				return
			}
		case reason := <-ss.closeC:
			ss.sendClose(reason)
			return
		case <-ss.ctx.Done():
			return
		}
	}
}

// writeEvent sends one event of sub; ok false means that sub ended. It
// reports whether the session goes on.
func (ss *session) writeEvent(sub *jobs.Subscription, ev *jobs.Event, ok bool) bool {
	if !ok {
		select {
		case <-sub.Lost():
			return ss.resync(sub)
		default:
			ss.sendClose("taskmasterd is shutting down")
			return false
		}
	}
	if tag, ok := ev.Tag.(resyncTag); ok && ev.Kind == jobs.Snapshot {
		ss.resyncing = false
		return ss.send(ss.mustEncode(TypeJobsSnapshot, snapshot(0, ev.Time, ss.withFleet(ev.Jobs), tag))) == nil
	}
	e, err := ss.srv.events.get(ev, ss.encodeEvent)
	if err != nil {
		ss.srv.logger().Error("live link: cannot encode event", "type", e.typ, "err", err)
		return true
	}
	if e.typ == "" {
		return true
	}
	// The writer's own buffer: the transport has copied a message by the
	// time Write returns, so one buffer serves every event.
	ss.buf = appendFrame(ss.buf[:0], ss.seq.Add(1), e.typ, e.data)
	return ss.send(ss.buf) == nil
}

// resync answers a loss of events: the client fell more than its buffer
// behind (a burst of changes, or a slow client), so the supervisor dropped
// its subscription. The client is told (events_lost_event), subscribed
// again, and sent a snapshot of every job, after which events go on. A
// client that falls behind again before its snapshot went out is too slow
// and is closed.
func (ss *session) resync(lost *jobs.Subscription) bool {
	behind := cap(lost.C)
	if ss.resyncing {
		ss.srv.logger().Warn("live link client too slow: dropped", "events_behind", behind)
		ss.sendClose(fmt.Sprintf("too slow: fell more than %d events behind twice in a row", behind))
		return false
	}
	sub, err := ss.srv.Events.Subscribe(ss.srv.EventBuffer)
	if err != nil {
		ss.sendClose("taskmasterd is shutting down")
		return false
	}
	ss.sub.Store(sub)
	lost.Close()
	ss.resyncing = true
	if sub.Snapshot(ss.ctx, resyncTag{lost: behind}) != nil {
		ss.sendClose("taskmasterd is shutting down")
		return false
	}
	return ss.send(ss.mustEncode(TypeEventsLost, eventsLostData{Behind: behind})) == nil
}

// resyncTag marks the snapshot that follows a loss of events.
type resyncTag struct{ lost int }

// mustEncode encodes a message whose data cannot fail to encode.
func (ss *session) mustEncode(typ string, data any) []byte {
	b, err := ss.encode(typ, data)
	if err != nil {
		panic(fmt.Sprintf("link: encode %s: %v", typ, err))
	}
	return b
}

// send writes one message within the write timeout: a client that does
// not take it in by then is not reading, and the session ends.
func (ss *session) send(b []byte) error {
	ctx := ss.writeContext()
	err := ss.conn.Write(ctx, b)
	if err == nil {
		err = ss.flushUnlessMore(ctx)
	}
	// The write's own deadline, not the session's end (which the reader
	// may see first, once the transport closed the connection for it). A
	// held batch is flushed under a socket deadline equal to ctx's, which
	// may fire a moment before ctx itself reports it.
	if err != nil && (errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, os.ErrDeadlineExceeded)) {
		ss.srv.logger().Warn("live link client not reading: dropped",
			"waited", orDefault(ss.srv.WriteTimeout, DefaultWriteTimeout))
	}
	return err
}

// writeContext is the context of the writer's next message: its deadline
// is between the write timeout and a tenth more from now. One context
// serves the messages of a tenth of the timeout instead of one each (a
// timer, a cancel and their allocations per message and client were a
// tenth of what the live link cost taskmasterd with a hundred clients),
// and a message still gets at least the whole timeout. Writer only.
func (ss *session) writeContext() context.Context {
	timeout := orDefault(ss.srv.WriteTimeout, DefaultWriteTimeout)
	now := time.Now()
	if ss.wctx == nil || now.After(ss.wrenew) {
		if ss.wcancel != nil {
			ss.wcancel()
		}
		ss.wctx, ss.wcancel = context.WithDeadline(ss.ctx, now.Add(timeout+timeout/10))
		ss.wrenew = now.Add(timeout / 10)
	}
	return ss.wctx
}

// flushUnlessMore holds the connection while more messages wait for the
// writer, so that they go out together, and sends what it holds once none
// does.
func (ss *session) flushUnlessMore(ctx context.Context) error {
	bc, ok := ss.conn.(Batcher)
	if !ok {
		return nil
	}
	if sub := ss.sub.Load(); (sub != nil && len(sub.C) > 0) || len(ss.out) > 0 {
		bc.Hold()
		return nil
	}
	return bc.Flush(ctx)
}

// closeWait bounds the sending of a close: the client may not be reading.
const closeWait = time.Second

func (ss *session) sendClose(reason string) {
	b, err := ss.encode(TypeClose, Close{Reason: reason})
	if err == nil {
		ctx, cancel := context.WithTimeout(ss.ctx, closeWait)
		defer cancel()
		if ss.conn.Write(ctx, b) == nil {
			if bc, ok := ss.conn.(Batcher); ok {
				_ = bc.Flush(ctx)
			}
		}
	}
}

// writeNow sends a message directly, before the writer runs.
func (ss *session) writeNow(typ string, data any) error {
	b, err := ss.encode(typ, data)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ss.ctx, orDefault(ss.srv.WriteTimeout, DefaultWriteTimeout))
	defer cancel()
	return ss.conn.Write(ctx, b)
}

// queue hands a message to the writer; false if the session ended.
func (ss *session) queue(typ string, data any) bool {
	b, err := ss.encode(typ, data)
	if err != nil {
		ss.srv.logger().Error("live link: cannot encode message", "type", typ, "err", err)
		return true
	}
	select {
	case ss.out <- b:
		return true
	case <-ss.ctx.Done():
		return false
	}
}

// encode numbers and encodes one message.
func (ss *session) encode(typ string, data any) ([]byte, error) {
	raw, err := jsonx.Marshal(data)
	if err != nil {
		return nil, err
	}
	return frame(ss.seq.Add(1), typ, raw), nil
}

// writeClose sends close with reason directly on c.
func writeClose(ctx context.Context, c Conn, seq int64, reason string) {
	data, _ := json.Marshal(Close{Reason: reason})
	b, err := json.Marshal(Message{Seq: seq, Type: TypeClose, Data: data})
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, closeWait)
	defer cancel()
	_ = c.Write(ctx, b)
}
