package jobs

import (
	"fmt"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/notify"
)

// notifyEnds is what a process about to start gets to tell its readiness:
// the variables of its environment and the descriptors beyond 0, 1 and 2.
type notifyEnds struct {
	env   []string
	files map[int]int // its descriptor number: ours
}

// openNotify opens the socket (notify) or pipe (notify_fd) of the process
// in is about to start, if its ready check is one of those. The caller
// closes the child's ends (closeChildEnds) once the process has them, or
// has failed to start.
func (s *Supervisor) openNotify(in *instance) (notifyEnds, error) {
	var ends notifyEnds
	r := in.ready
	if r == nil || (r.Kind != jobfile.ProbeNotify && r.Kind != jobfile.ProbeNotifyFD) {
		return ends, nil
	}
	hub, err := s.notifyHub()
	if err != nil {
		return ends, err
	}
	gen := in.gen
	if r.Kind == jobfile.ProbeNotifyFD {
		var w int
		var pipe *notify.Pipe
		pipe, w, err = hub.Pipe(func() { s.inbox.push(func() { s.fdReady(in, gen, pipe) }) })
		if err != nil {
			return ends, fmt.Errorf("notify_fd: %w", err)
		}
		in.chk.pipe = pipe
		ends.files = map[int]int{r.FD: w}
		return ends, nil
	}
	uid, gid := -1, -1
	if u := in.spec.User; u != nil {
		uid, gid = int(u.UID), int(u.GID)
	}
	var sock *notify.Socket
	sock, err = hub.Socket(uid, gid, func() { s.inbox.push(func() { s.notified(in, gen, sock) }) })
	if err != nil {
		return ends, err
	}
	in.chk.sock = sock
	ends.env = []string{"NOTIFY_SOCKET=" + sock.Path()}
	if r.Watchdog > 0 {
		ends.env = append(ends.env, "WATCHDOG_USEC="+strconv.FormatInt(r.Watchdog.Microseconds(), 10))
	}
	return ends, nil
}

// closeChildEnds closes the descriptors only the child needed.
func (e notifyEnds) closeChildEnds() {
	for _, fd := range e.files {
		_ = unix.Close(fd)
	}
}

// notifyHub returns the Hub, made on the first use: taskmasterd without a
// job that notifies has no socket directory and no reader.
func (s *Supervisor) notifyHub() (*notify.Hub, error) {
	if s.hub == nil {
		hub, err := notify.NewHub(s.cfg.NotifyDirs...)
		if err != nil {
			return nil, err
		}
		s.hub = hub
	}
	return s.hub, nil
}

// closeHub closes every socket and removes their directory, when Run
// ends.
func (s *Supervisor) closeHub() {
	if s.hub != nil {
		if err := s.hub.Close(); err != nil {
			s.log.Warn("notify sockets", "err", err)
		}
	}
}

// closeNotify closes the socket and pipe of in's process, if it has them.
func (s *Supervisor) closeNotify(in *instance) {
	c := &in.chk
	if c.sock != nil {
		c.sock.Close()
		c.sock = nil
	}
	if c.pipe != nil {
		c.pipe.Close()
		c.pipe = nil
	}
}

// notified handles what the process of in (generation gen) sent to its
// socket.
func (s *Supervisor) notified(in *instance, gen uint64, sock *notify.Socket) {
	m, ok := sock.Take()
	if !ok || in.gen != gen || in.chk.sock != sock {
		return // a message of a process that has ended
	}
	c := &in.chk
	if m.HasStatus && m.Status != c.status {
		c.status = m.Status
		if !m.Ready {
			s.publishInstance(in, in.state)
		}
	}
	if m.Ready {
		in.becomeReady(s, "ready: READY=1")
	}
	if in.state != Running || in.watchdogPeriod() == 0 {
		return
	}
	switch {
	case m.WatchdogTrigger:
		s.watchdogExpired(in, gen)
	case m.Watchdog && c.watchdog.set():
		s.setAlarm(c.watchdog, s.now().Add(in.watchdogPeriod()))
	}
}

// fdReady handles the readiness line of the process of in (generation
// gen).
func (s *Supervisor) fdReady(in *instance, gen uint64, pipe *notify.Pipe) {
	if in.gen != gen || in.chk.pipe != pipe {
		return
	}
	in.chk.pipe = nil // the Hub has closed it
	in.becomeReady(s, "ready: a line on fd "+strconv.Itoa(in.ready.FD))
}
