package ctlproto

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// The kernel's socket diagnostics (NETLINK_SOCK_DIAG, linux/inet_diag.h)
// answer for one socket, named by its addresses, in constant time, where
// reading /proc/net/tcp makes the kernel print every TCP socket of the
// network namespace: milliseconds per connection on a busy machine, paid
// by every control connection that the LocalUsers check admits.
const (
	inetDiagReqLen   = 56 // struct inet_diag_req_v2
	inetDiagMsgLen   = 72 // struct inet_diag_msg
	inetDiagStateOff = 1  // inet_diag_msg.idiag_state
	inetDiagUIDOff   = 64 // inet_diag_msg.idiag_uid
	inetDiagInodeOff = 68 // inet_diag_msg.idiag_inode
	tcpListen        = 10 // TCP_LISTEN, a value of idiag_state
)

// errDiagUnknown says that the kernel's socket diagnostics gave no answer
// either way (not available, or an unexpected reply): the caller falls back
// to /proc/net/tcp.
var errDiagUnknown = errors.New("socket diagnostics gave no answer")

// diagSocketUID asks the kernel for the TCP socket whose local address is
// local and whose remote address is remote, and returns its owner's uid.
// found is false when the kernel answered with a socket that is not a live
// one of that connection (see diagAnswer). The error is errDiagNoEntry when
// the kernel answered "no entry" for every family asked, errDiagUnknown
// when it could not be asked.
//
// An IPv4 peer may own an IPv4 socket or an IPv6 one holding IPv4-mapped
// addresses (a dual-stack socket): both are asked for.
func diagSocketUID(local, remote netip.AddrPort) (uid uint32, found bool, err error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, false, errDiagUnknown
	}
	defer unix.Close(fd)
	families := []uint8{unix.AF_INET6}
	if local.Addr().Is4() && remote.Addr().Is4() {
		families = []uint8{unix.AF_INET, unix.AF_INET6}
	}
	answered := false
	for _, family := range families {
		uid, found, err := diagQuery(fd, family, local, remote)
		switch {
		case found:
			return uid, true, nil
		case err == nil:
			answered = true // a socket, but not a live one: the other family may hold it
		case !errors.Is(err, errDiagNoEntry):
			return 0, false, err
		}
	}
	if answered {
		return 0, false, nil
	}
	// ENOENT is both "no such socket" and, on a kernel without TCP
	// diagnostics, "no handler": localPeerUID tells them apart.
	return 0, false, errDiagNoEntry
}

// errDiagNoEntry is the kernel's ENOENT: no such socket, or no TCP
// diagnostics at all.
var errDiagNoEntry = errors.New("socket diagnostics: no entry")

// diagQuery asks for one socket of one address family.
func diagQuery(fd int, family uint8, local, remote netip.AddrPort) (uint32, bool, error) {
	req := diagRequest(family, local, remote)
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, false, errDiagUnknown
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, false, errDiagUnknown
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return 0, false, errDiagUnknown
		}
		for _, m := range msgs {
			if m.Header.Seq != diagSeq {
				continue // a stale reply
			}
			return diagAnswer(m)
		}
	}
}

// diagSeq numbers the requests; one netlink socket serves one lookup, so a
// constant does.
const diagSeq = 1

// diagAnswer reads the reply to one lookup. The kernel looks a connection
// up, and when it finds none, falls back to a listening socket on the
// local address (that is how it routes a packet): a listener is never the
// peer of a connection, so it counts as "that socket is gone".
func diagAnswer(m syscall.NetlinkMessage) (uint32, bool, error) {
	switch m.Header.Type {
	case unix.NLMSG_ERROR:
		if len(m.Data) >= 4 && -int32(binary.NativeEndian.Uint32(m.Data)) == int32(unix.ENOENT) {
			return 0, false, errDiagNoEntry
		}
		return 0, false, errDiagUnknown
	case unix.SOCK_DIAG_BY_FAMILY:
		if len(m.Data) < inetDiagMsgLen {
			return 0, false, errDiagUnknown
		}
		// A socket without an inode is closed and on its way out (a
		// TIME_WAIT socket): nobody owns it any more.
		if binary.NativeEndian.Uint32(m.Data[inetDiagInodeOff:]) == 0 || m.Data[inetDiagStateOff] == tcpListen {
			return 0, false, nil
		}
		return binary.NativeEndian.Uint32(m.Data[inetDiagUIDOff:]), true, nil
	}
	return 0, false, errDiagUnknown
}

// diagRequest builds an nlmsghdr and an inet_diag_req_v2 asking for the
// one TCP socket with the given addresses.
func diagRequest(family uint8, local, remote netip.AddrPort) []byte {
	b := make([]byte, unix.NLMSG_HDRLEN+inetDiagReqLen)
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(len(b)))
	ne.PutUint16(b[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], diagSeq)
	ne.PutUint32(b[12:], uint32(os.Getpid()))
	r := b[unix.NLMSG_HDRLEN:]
	r[0], r[1] = family, unix.IPPROTO_TCP
	ne.PutUint32(r[4:], 0xffffffff) // every state
	id := r[8:]                     // struct inet_diag_sockid
	binary.BigEndian.PutUint16(id[0:], local.Port())
	binary.BigEndian.PutUint16(id[2:], remote.Port())
	putDiagAddr(id[4:20], family, local.Addr())
	putDiagAddr(id[20:36], family, remote.Addr())
	ne.PutUint32(id[40:], 0xffffffff) // INET_DIAG_NOCOOKIE
	ne.PutUint32(id[44:], 0xffffffff)
	return b
}

// putDiagAddr writes an address as the kernel stores it for family: an
// IPv4 address in the first four bytes, or sixteen bytes of IPv6 (an IPv4
// address then IPv4-mapped).
func putDiagAddr(dst []byte, family uint8, a netip.Addr) {
	if family == unix.AF_INET {
		v4 := a.As4()
		copy(dst, v4[:])
		return
	}
	v6 := a.As16()
	copy(dst, v6[:])
}
