// Package notify receives what processes say of themselves: systemd's
// sd_notify protocol (datagrams like "READY=1" sent to the unix socket
// named by $NOTIFY_SOCKET) and s6's readiness notification (a line written
// to an inherited file descriptor).
//
// Each process gets a socket (or pipe) of its own, so a message is known
// to come from that process, or from a process it gave the socket's path
// to (a shell script running systemd-notify), without looking senders up
// by pid, which races with a sender that exits at once. One epoll
// instance, watched by the Go runtime's poller, serves every socket and
// pipe: no goroutine per process, no polling, and nothing at all until
// the first socket is asked for.
//
// The sockets live in a private directory (mode 0711: its names cannot be
// listed) under random names; each is owned by the user its process runs
// as, mode 0600, so that other users' processes cannot send to it.
package notify

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/internal/epoll"
)

// maxSocketPath is the longest path a unix socket address holds, less the
// terminating NUL.
const maxSocketPath = len(unix.RawSockaddrUnix{}.Path) - 1

// Hub owns the sockets and pipes of every process, and the one goroutine
// that reads them. The zero value is not usable: call NewHub.
type Hub struct {
	dir string
	ep  *epoll.Epoll

	mu      sync.Mutex
	sources map[uint64]source // by id, the epoll data of its events
	nextID  uint64
	closed  bool
}

// source is a socket or a pipe the Hub reads.
type source interface {
	key() *uint64 // its id in sources, set by add
	// readable reads what is waiting, and reports whether the source is
	// done (to be closed and forgotten).
	readable() (done bool)
	fd() int
	close()
}

// NewHub makes a private directory for the sockets in the first of parents
// that takes one (the system's temporary directory when parents is empty),
// and starts the goroutine that reads them. Close removes the directory.
func NewHub(parents ...string) (*Hub, error) {
	dir, err := privateDir(parents)
	if err != nil {
		return nil, err
	}
	ep, err := epoll.New()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	h := &Hub{dir: dir, ep: ep, sources: map[uint64]source{}}
	go h.run(ep)
	return h, nil
}

// privateDir makes a directory of mode 0711 in the first parent that
// takes one and leaves room for socket names in it.
func privateDir(parents []string) (string, error) {
	if len(parents) == 0 {
		parents = []string{os.TempDir()}
	}
	var errs []error
	for _, parent := range parents {
		if len(parent)+len("/taskmasterd-notify-0123456789/")+nameLen > maxSocketPath {
			errs = append(errs, fmt.Errorf("%s: too long for unix socket paths", parent))
			continue
		}
		dir, err := os.MkdirTemp(parent, "taskmasterd-notify-")
		if err == nil {
			// Others may reach a socket they know the name of (a job's
			// user), not list them.
			if err = os.Chmod(dir, 0o711); err == nil {
				return dir, nil
			}
			_ = os.RemoveAll(dir)
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("no directory for notify sockets: %w", errors.Join(errs...))
}

// Dir returns the directory of the sockets.
func (h *Hub) Dir() string { return h.dir }

// add registers a source and returns its id.
func (h *Hub) add(s source) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return errors.New("notify: hub closed")
	}
	h.nextID++
	id := h.nextID
	*s.key() = id
	ev := &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(id), Pad: int32(id >> 32)}
	if err := h.ep.Ctl(unix.EPOLL_CTL_ADD, s.fd(), ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	h.sources[id] = s
	return nil
}

// remove forgets s and closes it; it is a no-op if s is gone already.
func (h *Hub) remove(s source) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if id := *s.key(); h.sources[id] == s {
		h.forget(id)
	}
}

// forget stops watching the source id and closes it. h.mu must be held.
func (h *Hub) forget(id uint64) {
	s := h.sources[id]
	delete(h.sources, id)
	if !h.closed {
		_ = h.ep.Ctl(unix.EPOLL_CTL_DEL, s.fd(), nil)
	}
	s.close()
}

// run reads the sources that have something to read, until Close.
func (h *Hub) run(ep *epoll.Epoll) {
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := ep.Wait(events)
		if err != nil {
			return // closed
		}
		h.mu.Lock()
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if s := h.sources[id]; s != nil && s.readable() {
				h.forget(id)
			}
		}
		h.mu.Unlock()
	}
}

// Close closes every socket and pipe, ends the goroutine and removes the
// directory.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	for id := range h.sources {
		h.forget(id)
	}
	h.closed = true
	h.mu.Unlock()
	return errors.Join(h.ep.Close(), os.RemoveAll(h.dir))
}

// nameLen is the length of a socket's name: 16 random hex digits, which
// nobody can guess.
const nameLen = 16

func randomName() string {
	var b [nameLen / 2]byte
	_, _ = rand.Read(b[:]) // never fails on Linux
	return hex.EncodeToString(b[:])
}

// Socket is the NOTIFY_SOCKET of one process.
type Socket struct {
	id   uint64
	h    *Hub
	path string
	sock int
	tell func() // called when a message is pending and was not before

	mu      sync.Mutex
	pending Message
	queued  bool // tell was called and Take has not been since
}

// Socket makes a socket for one process, owned by uid:gid (when uid is not
// negative), mode 0600. tell is called, from the Hub's goroutine, when a
// message arrives and none was pending; the owner then calls Take. tell
// must not block. Messages that arrive before Take are merged into one, so
// that a process that floods its socket costs a bounded amount of memory.
func (h *Hub) Socket(uid, gid int, tell func()) (*Socket, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	s := &Socket{h: h, path: filepath.Join(h.dir, randomName()), sock: fd, tell: tell}
	if err := s.bind(uid, gid); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	if err := h.add(s); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *Socket) bind(uid, gid int) error {
	if err := unix.Bind(s.sock, &unix.SockaddrUnix{Name: s.path}); err != nil {
		return fmt.Errorf("notify socket %s: %w", s.path, os.NewSyscallError("bind", err))
	}
	err := os.Chmod(s.path, 0o600)
	if err == nil && uid >= 0 {
		err = os.Lchown(s.path, uid, gid)
	}
	if err != nil {
		_ = os.Remove(s.path)
		return fmt.Errorf("notify socket: %w", err)
	}
	return nil
}

// Path is what $NOTIFY_SOCKET holds.
func (s *Socket) Path() string { return s.path }

// Take returns the message pending (the merge of those that arrived since
// the last Take), and false when there was none.
func (s *Socket) Take() (Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, had := s.pending, s.queued
	s.pending, s.queued = Message{}, false
	return m, had
}

// Close closes the socket and removes its file. Messages not taken are
// lost.
func (s *Socket) Close() { s.h.remove(s) }

func (s *Socket) fd() int      { return s.sock }
func (s *Socket) key() *uint64 { return &s.id }

func (s *Socket) close() {
	_ = unix.Close(s.sock)
	_ = os.Remove(s.path)
}

// maxReads bounds the reads of one source per wake-up: a process that
// floods its socket or pipe must not keep the Hub (and, through its lock,
// whoever closes a source) busy. epoll reports it again at once.
const maxReads = 64

// readable reads the datagrams waiting, up to maxReads. No control data is
// asked for, so descriptors a sender passes (FDSTORE=1) are closed by the
// kernel rather than received.
func (s *Socket) readable() bool {
	var buf [4096]byte
	tell := false
	for range maxReads {
		n, _, err := unix.Recvfrom(s.sock, buf[:], unix.MSG_DONTWAIT)
		if err == unix.EINTR {
			continue
		}
		if err != nil { // EAGAIN: all read
			break
		}
		m := Parse(buf[:n])
		s.mu.Lock()
		s.pending.merge(m)
		if !s.queued {
			s.queued, tell = true, true
		}
		s.mu.Unlock()
	}
	if tell {
		s.tell()
	}
	return false
}

// Pipe is the readiness descriptor of one process (s6's notification-fd):
// the process writes a line to it when it is ready.
type Pipe struct {
	id    uint64
	h     *Hub
	r     int
	ready func()
}

// Pipe makes a pipe whose write end, w, is for the process; the caller
// closes w once the process has it. ready is called once, from the Hub's
// goroutine, when a newline comes through; it must not block. The read end
// is closed then, or when the process closes its end without a newline,
// or on Close.
func (h *Hub) Pipe(ready func()) (p *Pipe, w int, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil, -1, os.NewSyscallError("pipe2", err)
	}
	// The child's end blocks, as a program expects of its descriptors.
	if err := unix.SetNonblock(fds[1], false); err != nil {
		_ = unix.Close(fds[0])
		_ = unix.Close(fds[1])
		return nil, -1, os.NewSyscallError("fcntl", err)
	}
	p = &Pipe{h: h, r: fds[0], ready: ready}
	if err := h.add(p); err != nil {
		_ = unix.Close(fds[0])
		_ = unix.Close(fds[1])
		return nil, -1, err
	}
	return p, fds[1], nil
}

// Close stops waiting for the line.
func (p *Pipe) Close() { p.h.remove(p) }

func (p *Pipe) fd() int      { return p.r }
func (p *Pipe) key() *uint64 { return &p.id }

func (p *Pipe) close() { _ = unix.Close(p.r) }

// readable reads what the process wrote: a newline in it is readiness.
// Anything else is ignored (s6 allows any text before the newline).
func (p *Pipe) readable() bool {
	var buf [512]byte
	for range maxReads {
		n, err := unix.Read(p.r, buf[:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false
		case err != nil || n == 0:
			return true // the process closed its end without a line
		}
		for _, c := range buf[:n] {
			if c == '\n' {
				p.ready()
				return true
			}
		}
	}
	return false
}
