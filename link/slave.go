package link

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// TypeFleetMessage is the type of the messages of a fleet agent that
// joined with register_slave: each one's data is one fleet message
// (docs/fleet.md, Joining over the live link).
const TypeFleetMessage = "fleet_message"

// Slaves takes the fleet agents that join over the live link with
// register_slave: on a fleet manager, its fleet.Manager (init wires it,
// so that link does not import fleet). Without it, register_slave is
// refused.
type Slaves interface {
	// AdmitSlave checks an agent: its id, its secret (register_slave's
	// token) and its address ("IP:PORT"). The error is what it is told.
	AdmitSlave(id, secret, peer string) error
	// ServeSlave runs an admitted agent's link until it ends. build is
	// the version the agent gave (register_slave's agent).
	ServeSlave(ctx context.Context, id, build, peer string, c SlaveConn)
}

// SlaveConn is the link of an admitted agent: each message is the data of
// a fleet_message. Read returns io.EOF once the agent closed.
type SlaveConn interface {
	Read(ctx context.Context) ([]byte, error)
	Write(ctx context.Context, data []byte) error
	Close() error
}

// slave is a register_slave the session accepted.
type slave struct {
	id, build, peer string
}

type peerKey struct{}

type registeredKey struct{}

type foreignHostKey struct{}

// WithForeignHost returns ctx saying that the client of the connection
// Serve is given asked for host, a name taskmasterd does not know as its
// own, without a token in force: the mark of a web page that pointed its
// own name at taskmasterd (DNS rebinding). Such a client's
// register_control is refused; register_slave, which carries an agent's
// secret, is not.
func WithForeignHost(ctx context.Context, host string) context.Context {
	return context.WithValue(ctx, foreignHostKey{}, host)
}

func foreignHost(ctx context.Context) string {
	host, _ := ctx.Value(foreignHostKey{}).(string)
	return host
}

// WithRegistered returns ctx carrying f, which the session of the
// connection Serve is given calls once its client has registered
// (register_control, or register_slave, admitted): until then the
// transport may treat the connection as one that has not said who it is.
func WithRegistered(ctx context.Context, f func()) context.Context {
	return context.WithValue(ctx, registeredKey{}, f)
}

// registered calls the function of WithRegistered, if any.
func registered(ctx context.Context) {
	if f, ok := ctx.Value(registeredKey{}).(func()); ok {
		f()
	}
}

// WithPeer returns ctx carrying the address ("IP:PORT") of the client of
// the connection Serve is given: register_slave checks it.
func WithPeer(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, peerKey{}, addr)
}

func peerOf(ctx context.Context) string {
	addr, _ := ctx.Value(peerKey{}).(string)
	return addr
}

// registerSlave checks a register_slave: {token, agent, version, name,
// id}, id the agent's fleet id and token its secret. It returns why it
// is refused, or "".
func (ss *session) registerSlave(data json.RawMessage) string {
	var reg Register
	if err := json.Unmarshal(data, &reg); err != nil {
		return fmt.Sprintf("register_slave: data must be {token, agent, version, name, id}: %v", err)
	}
	id, ok := reg.ID.(string)
	if !ok || id == "" {
		return "register_slave: id must be the agent's id, a string"
	}
	if reason := checkVersion(reg.Version); reason != "" {
		return strings.Replace(reason, "register_control", "register_slave", 1)
	}
	peer := peerOf(ss.ctx)
	if err := ss.srv.Slaves.AdmitSlave(id, reg.Token, peer); err != nil {
		return err.Error()
	}
	ss.slave = &slave{id: id, build: reg.Agent, peer: peer}
	return ""
}

// serveSlave hands an admitted agent's link to Slaves, once told ready.
func (ss *session) serveSlave() {
	if ss.writeNow(TypeReady, struct{}{}) != nil {
		return
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ss.closeC: // Shutdown: the agent will come back to the next taskmasterd
			ss.cancel()
		case <-done:
		}
	}()
	ss.srv.Slaves.ServeSlave(ss.ctx, ss.slave.id, ss.slave.build, ss.slave.peer, &slaveConn{ss: ss})
}

// slaveConn carries fleet messages as fleet_message link messages.
type slaveConn struct{ ss *session }

func (c *slaveConn) Read(ctx context.Context) ([]byte, error) {
	b, err := c.ss.conn.Read(ctx)
	if err != nil {
		return nil, err
	}
	m, err := decodeMessage(b)
	switch {
	case err != nil:
		return nil, err
	case m.Type == TypeClose:
		return nil, io.EOF
	case m.Type != TypeFleetMessage:
		return nil, fmt.Errorf("unexpected message type %q from a fleet agent", m.Type)
	}
	return m.Data, nil
}

func (c *slaveConn) Write(ctx context.Context, data []byte) error {
	return c.ss.conn.Write(ctx, frame(c.ss.seq.Add(1), TypeFleetMessage, data))
}

func (c *slaveConn) Close() error { return c.ss.conn.Close() }
