package jobs

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tcpCheck connects to addr and closes the connection at once, with a
// reset: a tcp check. An address of an IP literal, as checks of a local
// service have, takes connectStart; a host name is the resolver's, and
// goes through checkDialer.
func tcpCheck(ctx context.Context, addr string) error {
	ap, ok := literalAddr(addr)
	if !ok {
		c, err := checkDialer.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	fd, done, err := connectStart(ap)
	if !done {
		err = awaitConnect(ctx, fd)
	}
	return dialError(ap, err)
}

// literalAddr is addr as an IP address and port, if it is one that
// connectStart can take: a zone needs its scope id looked up.
func literalAddr(addr string) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(addr)
	return ap, err == nil && ap.Addr().Zone() == ""
}

// dialError says which address a tcp check failed to connect to, as the
// dialer does.
func dialError(ap netip.AddrPort, err error) error {
	if err == nil {
		return nil
	}
	return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(ap), Err: err}
}

// connectStart begins the connect of a tcp check with a few system calls:
// socket, SO_LINGER 0, connect, a look at the outcome, close. net.Dialer
// also registers the socket with the poller and unregisters it, reads
// both addresses back and sets TCP_NODELAY, and its connect blocks the
// thread for the whole loopback handshake as a system call the scheduler
// hands the thread's work off from; 200 checks a second paid for all of
// it. On loopback the handshake is over when connect returns: done is
// then true, with the outcome in err and the socket closed. Otherwise fd
// is the socket whose handshake is under way, for awaitConnect.
func connectStart(ap netip.AddrPort) (fd int, done bool, err error) {
	family := unix.AF_INET
	if ap.Addr().Is6() {
		family = unix.AF_INET6
	}
	fd, err = unix.Socket(family, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, true, os.NewSyscallError("socket", err)
	}
	// Set before connect, so that every way out closes with a reset.
	if err := unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1}); err != nil {
		unix.Close(fd)
		return -1, true, os.NewSyscallError("setsockopt", err)
	}
	switch err := rawConnect(fd, ap); err {
	case nil:
		return -1, true, closeChecked(fd, nil)
	case unix.EINPROGRESS, unix.EINTR: // after EINTR too, the connect goes on (connect(2))
	default:
		unix.Close(fd)
		return -1, true, os.NewSyscallError("connect", err)
	}
	if done, err := connected(fd); done {
		return -1, true, closeChecked(fd, err)
	}
	return fd, false, nil
}

// rawConnect is connect(2) as a raw system call: on a non-blocking socket
// it returns at once, or once the loopback handshake is done, so the
// scheduler need not be told of it.
func rawConnect(fd int, ap netip.AddrPort) error {
	var ptr unsafe.Pointer
	var size uintptr
	var sa4 unix.RawSockaddrInet4
	var sa6 unix.RawSockaddrInet6
	port := (*[2]byte)(unsafe.Pointer(&sa4.Port))
	if ap.Addr().Is4() {
		sa4.Family, sa4.Addr = unix.AF_INET, ap.Addr().As4()
		ptr, size = unsafe.Pointer(&sa4), unsafe.Sizeof(sa4)
	} else {
		sa6.Family, sa6.Addr = unix.AF_INET6, ap.Addr().As16()
		port = (*[2]byte)(unsafe.Pointer(&sa6.Port))
		ptr, size = unsafe.Pointer(&sa6), unsafe.Sizeof(sa6)
	}
	port[0], port[1] = byte(ap.Port()>>8), byte(ap.Port()) // network byte order
	_, _, errno := unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(ptr), size)
	if errno != 0 {
		return errno
	}
	return nil
}

// connected reports whether the connect of fd is over, and how it ended.
func connected(fd int) (bool, error) {
	soErr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
	switch {
	case err != nil:
		return true, os.NewSyscallError("getsockopt", err)
	case soErr != 0:
		return true, os.NewSyscallError("connect", unix.Errno(soErr))
	}
	if _, err := unix.Getpeername(fd); err == nil {
		return true, nil
	} else if !errors.Is(err, unix.ENOTCONN) {
		return true, os.NewSyscallError("getpeername", err)
	}
	return false, nil // the handshake is under way
}

// awaitConnect waits, through the runtime's poller, until the connect of
// fd is over or ctx ends, and closes fd.
func awaitConnect(ctx context.Context, fd int) error {
	f := os.NewFile(uintptr(fd), "tcp check") // non-blocking: the poller's
	defer f.Close()
	stop := context.AfterFunc(ctx, func() { _ = f.SetWriteDeadline(aLongTimeAgo) })
	defer stop()
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var result error
	werr := rc.Write(func(fd uintptr) bool {
		done, err := connected(int(fd))
		result = err
		return done
	})
	if werr != nil {
		return os.NewSyscallError("connect", ctx.Err())
	}
	return result
}

// aLongTimeAgo is a deadline in the past: it ends a wait at once.
var aLongTimeAgo = time.Unix(1, 0)

// closeChecked closes fd (a reset, SO_LINGER being 0) and returns err.
func closeChecked(fd int, err error) error {
	unix.Close(fd)
	return err
}
