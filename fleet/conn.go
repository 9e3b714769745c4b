package fleet

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/fleet/wire"
)

// Defaults of the link's timing: the original's ping every 10 s, and its
// pong expected within 5 s (half the interval).
const (
	DefaultPingInterval = 10 * time.Second
	DefaultHelloTimeout = 10 * time.Second
	DefaultWriteTimeout = 10 * time.Second
)

// Why a connection ends, beside the transport's own errors.
var (
	ErrPongTimeout = errors.New("no pong in time")
	ErrPeerClosed  = errors.New("the peer closed the connection")
	errClosed      = errors.New("connection closed")
)

// ByeError is a connection ended by the peer's Bye.
type ByeError struct{ Reason string }

func (e *ByeError) Error() string { return "the peer said bye: " + e.Reason }

// conn is one established fleet connection, the manager's or the agent's:
// it writes messages one at a time, answers pings, sends its own and drops
// the connection when a pong is late. It has no goroutine of its own: the
// keep-alive runs on timers, the reading on the caller's goroutine (run).
type conn struct {
	t            transport
	writeTimeout time.Duration
	interval     time.Duration // between pings; 0 for none
	log          *slog.Logger

	wmu sync.Mutex // one writer at a time

	kmu      sync.Mutex
	pinger   *time.Timer // the next ping
	pongWait *time.Timer // armed from a ping until its pong
	pingData int32
	pingSent time.Time
	rtt      atomic.Int64 // nanoseconds, of the last pong

	closeOnce sync.Once
	done      chan struct{}
	err       error // why it ended; set before done is closed
}

func newConn(t transport, interval, writeTimeout time.Duration, log *slog.Logger) *conn {
	return &conn{t: t, interval: interval, writeTimeout: writeTimeout, log: log, done: make(chan struct{})}
}

// send writes one message within the write timeout; a failure ends the
// connection.
func (c *conn) send(p any) error {
	m := wire.New(p)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	select {
	case <-c.done:
		return c.err
	default:
	}
	if err := c.t.write(m, c.writeTimeout); err != nil {
		if errors.Is(err, wire.ErrTooBig) {
			return err // nothing was written: the connection is fine
		}
		c.close(fmt.Errorf("write: %w", err))
		return err
	}
	return nil
}

// bye sends Bye with reason, best effort, and ends the connection.
func (c *conn) bye(reason string, why error) {
	_ = c.send(&fleetpb.Bye{Reason: reason})
	c.close(why)
}

// close ends the connection once; err says why.
func (c *conn) close(err error) {
	c.closeOnce.Do(func() {
		c.err = err
		c.kmu.Lock()
		if c.pinger != nil {
			c.pinger.Stop()
		}
		if c.pongWait != nil {
			c.pongWait.Stop()
		}
		c.kmu.Unlock()
		c.t.close()
		close(c.done)
	})
}

// startPings sends a ping every interval from now on.
func (c *conn) startPings() {
	if c.interval <= 0 {
		return
	}
	c.kmu.Lock()
	defer c.kmu.Unlock()
	c.pinger = time.AfterFunc(c.interval, c.ping)
}

// ping sends one ping and arms the pong deadline, half the interval.
func (c *conn) ping() {
	c.kmu.Lock()
	select {
	case <-c.done:
		c.kmu.Unlock()
		return
	default:
	}
	c.pingData++
	data := c.pingData
	c.pingSent = time.Now()
	if c.pongWait == nil {
		c.pongWait = time.AfterFunc(c.interval/2, func() { c.close(ErrPongTimeout) })
	} else {
		c.pongWait.Reset(c.interval / 2)
	}
	c.pinger.Reset(c.interval)
	c.kmu.Unlock()
	_ = c.send(&fleetpb.Ping{Data: data})
}

// pong takes a pong: the one for the last ping disarms its deadline.
func (c *conn) pong(data int32) {
	c.kmu.Lock()
	defer c.kmu.Unlock()
	if data != c.pingData || c.pongWait == nil {
		return
	}
	if c.pongWait.Stop() {
		c.rtt.Store(int64(time.Since(c.pingSent)))
	}
}

// RTT is the round-trip time of the last ping answered in time; 0 before.
func (c *conn) RTT() time.Duration { return time.Duration(c.rtt.Load()) }

// run reads messages until the connection ends, and returns why. It
// answers pings and takes pongs itself, ignores messages of types it does
// not know, answers a broken frame with the original's Bye, and hands
// everything else to handle; an error from handle ends the connection
// with a Bye of its text.
func (c *conn) run(handle func(*fleetpb.Message) error) error {
	for {
		m, err := c.t.read()
		switch {
		case err == nil:
		case errors.Is(err, wire.ErrUnknown):
			c.log.Debug("fleet: message of an unknown type ignored", "type", m.GetType())
			continue
		case errors.Is(err, wire.ErrTooBig):
			c.bye(wire.ReasonTooBig, err)
			return c.wait()
		case errors.Is(err, wire.ErrInvalid):
			c.bye(wire.ReasonInvalid, err)
			return c.wait()
		case errors.Is(err, io.EOF):
			c.close(ErrPeerClosed)
			return c.wait()
		default:
			c.close(err)
			return c.wait()
		}
		switch p := m.GetMessage().(type) {
		case *fleetpb.Message_Ping:
			_ = c.send(&fleetpb.Pong{Data: p.Ping.GetData()})
		case *fleetpb.Message_Pong:
			c.pong(p.Pong.GetData())
		case *fleetpb.Message_Bye:
			c.close(&ByeError{Reason: p.Bye.GetReason()})
			return c.wait()
		default:
			if err := handle(m); err != nil {
				c.bye(err.Error(), err)
				return c.wait()
			}
		}
	}
}

// wait returns why the connection ended, once it has.
func (c *conn) wait() error {
	<-c.done
	return c.err
}
