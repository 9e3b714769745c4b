package ctlproto

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// loopback is the allowlist of a Server whose Allow is empty.
var loopback = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// ParseAllow parses a comma-separated list of CIDR prefixes such as
// "10.0.0.0/8, fd00::/8". A bare address stands for itself (/32 or /128).
// An empty string gives an empty list.
func ParseAllow(s string) ([]netip.Prefix, error) {
	var allow []netip.Prefix
	for _, entry := range strings.Split(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parsePrefix(entry)
		if err != nil {
			return nil, fmt.Errorf("allow list entry %q: not an IP address or CIDR prefix", entry)
		}
		allow = append(allow, p)
	}
	return allow, nil
}

func parsePrefix(entry string) (netip.Prefix, error) {
	if strings.Contains(entry, "/") {
		p, err := netip.ParsePrefix(entry)
		return p.Masked(), err
	}
	addr, err := netip.ParseAddr(entry)
	if err != nil {
		return netip.Prefix{}, err
	}
	addr = addr.Unmap().WithZone("")
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// CheckListen refuses a listen address that reaches beyond this machine
// (":7777", "0.0.0.0", "::", a LAN address, a host name other than
// localhost) unless an allowlist or a token protects it: the protocol has no
// authentication of its own.
func CheckListen(addr string, allow []netip.Prefix, token string) error {
	if len(allow) > 0 || token != "" || isLoopbackHost(hostOf(addr)) {
		return nil
	}
	return fmt.Errorf("listen address %q is reachable from other machines and the control "+
		"protocol has no authentication: set -allow CIDR (the peers allowed to connect) "+
		"or -token (a secret every request must carry), or listen on 127.0.0.1", addr)
}

// hostOf returns the host part of addr, which may lack a port.
func hostOf(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return strings.Trim(addr, "[]")
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// peerAllowed reports whether a peer may talk to the server. An IPv4 peer
// matches both IPv4 prefixes and IPv4-mapped IPv6 ones (::ffff:0:0/96),
// however the listener reports it. Unix socket peers are let through: file
// permissions guard those.
func peerAllowed(allow []netip.Prefix, peer net.Addr) bool {
	var addr netip.Addr
	switch a := peer.(type) {
	case *net.UnixAddr:
		return true
	case *net.TCPAddr:
		addr = a.AddrPort().Addr()
	default:
		ap, err := netip.ParseAddrPort(a.String())
		if err != nil {
			return false
		}
		addr = ap.Addr()
	}
	if len(allow) == 0 {
		allow = loopback
	}
	plain := addr.WithZone("").Unmap()
	mapped := netip.AddrFrom16(plain.As16())
	for _, p := range allow {
		if p.Contains(plain) || p.Contains(mapped) {
			return true
		}
	}
	return false
}
