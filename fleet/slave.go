package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// Agents may join a manager over its live link instead of the fleet port
// (register_slave, docs/fleet.md): for networks where only HTTP passes.
// The link checks the registration with AdmitSlave and, once it has said
// ready, hands the connection to ServeSlave; from then on the messages
// are the fleet's, one per link message.

// AdmitSlave checks an agent that joins over the live link: its id, its
// secret (register_slave's token) and its address, against the same
// rules as a ClientHello. The error is what the agent is told.
func (m *Manager) AdmitSlave(id, secret string, peer string) error {
	ap, err := netip.ParseAddrPort(peer)
	if err != nil {
		return fmt.Errorf("register_slave: no peer address (%q)", peer)
	}
	err = m.authenticate(id, secret, ap.Addr().Unmap())
	if err != nil {
		m.logger().Warn("fleet: agent refused", "addr", peer, "agent", id, "err", err, "over", "live link")
		if errors.Is(err, ErrAuth) {
			return ErrAuth
		}
	}
	return err
}

// ServeSlave runs the link of an agent AdmitSlave let in, until it ends:
// the agent is then lost, as over the fleet port.
func (m *Manager) ServeSlave(ctx context.Context, id, build, peer string, c MessageConn) {
	t := newMessageTransport(c)
	stop := context.AfterFunc(ctx, func() { t.close() })
	defer stop()
	conn := newConn(t, orDefault(m.PingInterval, DefaultPingInterval), orDefault(m.WriteTimeout, DefaultWriteTimeout), m.logger())
	m.mu.Lock()
	m.initLocked()
	if m.closing {
		m.mu.Unlock()
		conn.bye("the manager is shutting down", errClosed)
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	defer m.wg.Done()
	m.serveJoined(conn, id, build, peer)
}
