package ctlproto

import (
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

// maxChecks bounds the LocalUsers checks in progress at once, apart from
// MaxConns: peers still being checked, or a flood of peers that connect and
// vanish, must not take the slots that admitted clients need. A newcomer
// beyond it is refused at once. Through the kernel's socket diagnostics a
// check takes tens of microseconds, so only a flood, on a kernel where
// /proc/net/tcp must be searched, reaches the bound.
const maxChecks = 16

// admit applies the allowlist to a new connection, then the LocalUsers
// check (off the accept loop) when there is one, then gives it a slot.
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
	case len(s.LocalUsers) > 0:
		s.startCheckLocked(nc)
	default:
		s.enterLocked(nc, false)
	}
}

// startCheckLocked runs the LocalUsers check of nc in its own goroutine, or
// refuses nc when maxChecks are in progress already.
func (s *Server) startCheckLocked(nc net.Conn) {
	if s.checking >= maxChecks {
		s.warn(&s.limits.full, "too many connections being checked", "peer", nc.RemoteAddr().String(),
			"limit", maxChecks)
		s.rejectLocked(nc, "too many connections")
		return
	}
	s.checking++
	s.wg.Add(1)
	go s.check(nc)
}

// check refuses nc if its peer is a local user not allowed, and lets it in
// otherwise. A local peer of an allowed user is vouched for: admitted at
// once, unless the token must decide.
func (s *Server) check(nc net.Conn) {
	defer s.wg.Done()
	why, vouched := s.checkLocalUser(nc)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checking--
	switch {
	case s.closing:
		nc.Close()
	case why != "":
		s.rejectLocked(nc, why)
	default:
		s.enterLocked(nc, vouched && s.Token == "")
	}
}

// enterLocked gives nc a connection slot and serves it. When every slot is
// taken, the admitted connection that has waited longest for its next
// request is evicted to make room; when none can be, nc is refused.
func (s *Server) enterLocked(nc net.Conn, admitted bool) {
	if len(s.conns)-s.leaving >= s.maxConns() && !s.evictLocked() {
		s.warn(&s.limits.full, "too many connections", "peer", nc.RemoteAddr().String(),
			"limit", s.maxConns())
		s.rejectLocked(nc, "too many connections")
		return
	}
	c := newConn(s, nc, admitted)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	go c.serve()
}

// evictLocked evicts the admitted connection idle for longest or, when
// there is none, the connection not yet admitted that came first, and
// reports whether there was one. A connection in the middle of a request
// is never evicted: a client that is owed a reply gets it. A connection
// not yet admitted would be closed within AuthTimeout anyway; were it
// never evicted, peers that connect and say nothing (a job as nobody
// with a token set, a stranger with an allowlist) could keep every slot
// taken, one AuthTimeout after the other, and nobody else could get in.
func (s *Server) evictLocked() bool {
	var victim *conn
	for c := range s.conns {
		if c.evictable() && evictsBefore(c, victim) {
			victim = c
		}
	}
	if victim == nil {
		return false
	}
	s.warn(&s.limits.evict, "too many connections: closing the one idle longest", "peer", victim.peer,
		"idle", time.Since(victim.idleSince).Round(time.Millisecond), "admitted", victim.admitted)
	victim.evicted, victim.leaving = true, true
	s.leaving++
	// Wakes its goroutine, blocked reading, which says goodbye and closes.
	victim.nc.SetReadDeadline(aLongTimeAgo)
	return true
}

// evictsBefore reports whether c is to be evicted before victim (nil for
// none yet): an admitted connection before one not admitted; of two
// admitted, the one idle longest; of two not admitted, the one that came
// first (its own sooner deadline says so).
func evictsBefore(c, victim *conn) bool {
	switch {
	case victim == nil:
		return true
	case c.admitted != victim.admitted:
		return c.admitted
	case !c.admitted:
		return c.admitBy.Before(victim.admitBy)
	}
	return c.idleSince.Before(victim.idleSince)
}

// checkLocalUser applies LocalUsers to nc. It returns why nc is refused,
// or "", and whether its peer is a process of this machine whose user is
// allowed. It fails closed: a peer of this machine whose socket cannot be
// found (it is gone already, and a closed socket's entry no longer shows
// its owner) is refused too. Peers of other machines are neither refused
// nor vouched for: Allow and Token guard them.
func (s *Server) checkLocalUser(nc net.Conn) (why string, vouched bool) {
	v := judgeLocalUser(nc, s.LocalUsers)
	switch {
	case v.why != "" && v.found:
		s.warn(&s.limits.user, "refused a local connection from a user not allowed", "peer",
			nc.RemoteAddr().String(), "uid", v.uid)
	case v.why != "":
		s.warn(&s.limits.user, "refused a local connection whose user cannot be told", "peer", nc.RemoteAddr().String())
	}
	return v.why, v.vouched
}

// localVerdict is the local-user rule's verdict on one connection.
type localVerdict struct {
	why     string // why it is refused, or ""
	vouched bool   // its peer is a process of this machine whose user is allowed
	uid     uint32 // the peer's user, when found
	found   bool
}

// judgeLocalUser applies the local-user rule of checkLocalUser with the
// allowed users.
func judgeLocalUser(nc net.Conn, users []uint32) localVerdict {
	uid, found := localPeerUID(nc)
	switch {
	case found && slices.Contains(users, uid):
		return localVerdict{vouched: true, uid: uid, found: true}
	case found:
		return localVerdict{uid: uid, found: true, why: fmt.Sprintf(
			"permission denied: uid %d may not control taskmasterd (allowed: uid %s, or any user with the token)",
			uid, joinUIDs(users))}
	case fromThisMachine(nc):
		return localVerdict{why: "permission denied: cannot tell which user connects"}
	}
	return localVerdict{}
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
	if c.leaving {
		s.leaving--
	}
}

// leave stops counting c against MaxConns: it is closing, and lingers only
// to let its peer read the last reply. It reports whether c may linger;
// past MaxConns connections lingering at once it may not, so that peers
// that keep getting themselves closed cannot pile them up.
func (s *Server) leave(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.leaving {
		return true
	}
	if s.leaving >= s.maxConns() {
		return false
	}
	c.leaving = true
	s.leaving++
	return true
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
// nil when the request may go on. The caller closes the connection after
// that reply: a peer without the token has nothing more to say.
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

// sameToken reports whether got, what a client sent, is the token want,
// in a time that depends on the length of got only: every byte of got is
// compared, with want's bytes taken in turn (and again from the start when
// got is longer), so neither where they differ nor want's length shows.
// It does what comparing SHA-256 hashes did without crypto/sha256, whose
// FIPS 140 module (its self-checks and random generator) every
// taskmasterctl start paid for, in 155 KB and in its init, though the
// client never checks a token.
func sameToken(got, want string) bool {
	if want == "" {
		return got == ""
	}
	var diff byte
	for i := range len(got) {
		diff |= got[i] ^ want[i%len(want)]
	}
	sameLen := subtle.ConstantTimeEq(int32(min(len(got), 1<<30)), int32(len(want)))
	return sameLen&subtle.ConstantTimeByteEq(diff, 0) == 1
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
