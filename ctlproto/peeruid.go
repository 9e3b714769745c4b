package ctlproto

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
)

// procNetTCP are the kernel's tables of TCP sockets of this network
// namespace, where the peer's end of a local connection can be found.
var procNetTCP = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// localPeerUID returns the uid that owns the other end of nc when that end
// is a live socket of this machine (of this network namespace), and false
// when the peer is elsewhere or gone. TCP has no SO_PEERCRED, but the
// kernel knows the owner of every local socket: the peer's socket is the
// one whose local address is nc's remote address and the other way round.
// The kernel's socket diagnostics find it at once; only when they cannot
// answer are the tables of /proc/net searched.
func localPeerUID(nc net.Conn) (uint32, bool) {
	local, ok1 := addrPort(nc.LocalAddr())
	remote, ok2 := addrPort(nc.RemoteAddr())
	if !ok1 || !ok2 {
		return 0, false
	}
	uid, found, err := socketDiagnostics(remote, local)
	switch {
	case err == nil:
		diagWorks.Store(true)
		return uid, found
	case errors.Is(err, errDiagNoEntry) && socketDiagnosticsWork(local, remote):
		// The peer is gone (it reset the connection): searching /proc,
		// milliseconds each, would only let a peer that connects and
		// vanishes in a loop keep taskmasterd busy.
		return 0, false
	}
	return procPeerLookup(local, remote)
}

// socketDiagnostics is diagSocketUID and procPeerLookup is procPeerUID;
// tests replace them to take the fallback's path or to slow it down.
var (
	socketDiagnostics = diagSocketUID
	procPeerLookup    = procPeerUID
)

// diagWorks records that the kernel's TCP socket diagnostics have answered
// with a socket at least once. The kernel says "no entry" both for a socket
// that does not exist and, without TCP diagnostics (no tcp_diag module),
// for every socket: once they have found one, "no entry" is believed.
var diagWorks atomic.Bool

// socketDiagnosticsWork reports whether the kernel's TCP socket diagnostics
// work. Unless they have answered before, it asks them for our own end of
// the connection (local, remote), which exists as long as we hold it open;
// should the peer have reset it, the kernel's lookup falls back to our
// listening socket, which exists too. A "no entry" for that means no TCP
// diagnostics; it is not remembered (the listener may just have closed),
// so a later connection asks again.
func socketDiagnosticsWork(local, remote netip.AddrPort) bool {
	if diagWorks.Load() {
		return true
	}
	if _, _, err := socketDiagnostics(local, remote); err != nil {
		return false
	}
	diagWorks.Store(true)
	return true
}

// procPeerUID is localPeerUID by searching /proc/net/tcp and tcp6.
func procPeerUID(local, remote netip.AddrPort) (uint32, bool) {
	for _, table := range procNetTCP {
		if uid, ok := findSocketUID(table, remote, local); ok {
			return uid, true
		}
	}
	return 0, false
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := tcp.AddrPort()
	// The kernel's table knows no zones: fe80::1%eth0 is fe80::1 there.
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), true
}

// fromThisMachine reports whether nc's peer address is one of this
// machine's: loopback, or an address of one of its interfaces.
func fromThisMachine(nc net.Conn) bool {
	remote, ok := addrPort(nc.RemoteAddr())
	if !ok {
		return false
	}
	ip := remote.Addr()
	if ip.IsLoopback() {
		return true
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: fail closed
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Unmap() == ip {
			return true
		}
	}
	return false
}

// findSocketUID looks in a /proc/net/tcp-style table for the socket with
// the given local and remote addresses and returns its owner's uid. An
// entry without an inode (a closed socket on its way out, which the kernel
// shows as owned by root) does not count.
func findSocketUID(table string, local, remote netip.AddrPort) (uint32, bool) {
	f, err := os.Open(table)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[9] == "0" {
			continue
		}
		l, okl := parseProcAddr(fields[1])
		r, okr := parseProcAddr(fields[2])
		if !okl || !okr || l != local || r != remote {
			continue
		}
		uid, err := strconv.ParseUint(fields[7], 10, 32)
		return uint32(uid), err == nil
	}
	return 0, false
}

// parseProcAddr reads an address of /proc/net/tcp ("0100007F:1E61") or
// /proc/net/tcp6: the address as 32-bit words in the machine's byte order,
// hex, then the port, hex. An IPv4-mapped IPv6 address comes back as IPv4.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	hexIP, hexPort, ok := strings.Cut(s, ":")
	raw, err := hex.DecodeString(hexIP)
	if !ok || err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(hexPort, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	ip := make([]byte, len(raw))
	for i := 0; i < len(raw); i += 4 { // each word was printed as a host-order integer
		binary.BigEndian.PutUint32(ip[i:], binary.NativeEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}
