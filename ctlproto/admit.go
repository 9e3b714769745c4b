package ctlproto

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Bounds of lingerClose.
const (
	lingerTime  = time.Second
	lingerBytes = 8 << 20
)

// admit applies the allowlist and the connection cap to a new connection,
// then serves it in its own goroutine.
func (s *Server) admit(nc net.Conn) {
	peer := nc.RemoteAddr()
	if !peerAllowed(s.Allow, peer) {
		// Not a byte read or written: a stranger learns nothing.
		nc.Close()
		s.warn(&s.limits.refused, "refused connection from a peer outside the allowlist",
			"peer", peer.String())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closing:
		nc.Close()
	case len(s.conns) >= s.maxConns():
		s.warn(&s.limits.full, "too many connections", "peer", nc.RemoteAddr().String(),
			"limit", s.maxConns())
		s.rejectLocked(nc, "too many connections")
	default:
		c := newConn(s, nc)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		go c.serve()
	}
}

// refusedLocalUser returns why nc is refused when it comes from a process
// of this machine whose user is not one of LocalUsers, or "". It fails
// closed: a peer of this machine whose socket cannot be found (it closed
// already, and a closed socket's entry no longer shows its owner) is
// refused too.
func (s *Server) refusedLocalUser(nc net.Conn) string {
	if len(s.LocalUsers) == 0 {
		return ""
	}
	uid, found := localPeerUID(nc)
	switch {
	case found && slices.Contains(s.LocalUsers, uid):
		return ""
	case found:
		s.warn(&s.limits.user, "refused a local connection from a user not allowed", "peer",
			nc.RemoteAddr().String(), "uid", uid)
		return fmt.Sprintf("permission denied: uid %d may not control taskmasterd (allowed: uid %s, or any user with the token)",
			uid, joinUIDs(s.LocalUsers))
	case fromThisMachine(nc):
		s.warn(&s.limits.user, "refused a local connection whose user cannot be told", "peer", nc.RemoteAddr().String())
		return "permission denied: cannot tell which user connects"
	}
	return "" // another machine: Allow and Token guard it
}

func joinUIDs(uids []uint32) string {
	parts := make([]string, len(uids))
	for i, u := range uids {
		parts[i] = strconv.FormatUint(uint64(u), 10)
	}
	return strings.Join(parts, ", ")
}

// rejectLocked answers a refused connection with fail, in a goroutine so
// that a slow peer cannot stall the accept loop. The rejecting goroutines
// are capped too; past that the connection is just closed.
func (s *Server) rejectLocked(nc net.Conn, why string) {
	if s.rejecting >= s.maxConns() {
		nc.Close()
		return
	}
	s.rejecting++
	s.wg.Add(1)
	go s.reject(nc, why)
}

func (s *Server) reject(nc net.Conn, why string) {
	defer s.wg.Done()
	nc.SetWriteDeadline(time.Now().Add(lingerTime))
	nc.Write(AppendResponse(nil, Failf("%s", why)))
	lingerClose(nc)
	s.mu.Lock()
	s.rejecting--
	s.mu.Unlock()
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
}

// lingerClose closes nc after giving the peer a chance to read our last
// reply. Closing a socket that still has unread input makes the kernel send
// a reset, which can destroy the reply before the peer reads it; so shut our
// side, drain what the peer still sends (bounded in time and bytes), then
// close.
func lingerClose(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	nc.SetReadDeadline(time.Now().Add(lingerTime))
	io.Copy(io.Discard, io.LimitReader(nc, lingerBytes))
	nc.Close()
}

// authenticate returns the reply to a request without the right token, or
// nil when the request may go on.
func (s *Server) authenticate(req *Request, peer string) *Response {
	switch {
	case s.Token == "":
		return nil
	case req.Token == "":
		return Failf("authentication required")
	case !sameToken(req.Token, s.Token):
		s.warn(&s.limits.token, "request with a bad token", "peer", peer)
		return Failf("bad token")
	}
	return nil
}

// sameToken compares in constant time. Comparing hashes rather than the
// tokens themselves also hides the token's length.
func sameToken(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

// warn logs at Warn level through a limiter, adding the count of the lines
// the limiter held back since the last one.
func (s *Server) warn(l *logLimiter, msg string, args ...any) {
	ok, suppressed := l.allow(time.Now())
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	s.logger().Warn(msg, args...)
}
