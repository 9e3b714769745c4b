package ctlproto

import (
	"net"
	"net/netip"
)

// PeerAllowed reports whether peer may connect under allow (loopback
// only when allow is empty): the control port's rule, which taskmasterd's
// other listeners apply too.
func PeerAllowed(allow []netip.Prefix, peer net.Addr) bool { return peerAllowed(allow, peer) }

// LocalUserRefusal returns why nc is refused when it comes from a process
// of this machine whose user is not one of users, or "": the check
// Server.LocalUsers makes, for taskmasterd's other listeners. It fails
// closed, as that check does. No users means no check.
func LocalUserRefusal(nc net.Conn, users []uint32) string {
	if len(users) == 0 {
		return ""
	}
	return judgeLocalUser(nc, users).why
}

// Conns returns how many connections the server has open.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
