package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The kernel's process events connector (linux/cn_proc.h) tells, for every
// exec on the machine, which process exec'd and when, to the nanosecond on
// CLOCK_MONOTONIC. The benchmark uses it to see instances start instead of
// polling /proc: polling would cost CPU on the machine measured, at a
// precision no better than its period, and the more processes the slower a
// scan.
const (
	cnIdxProc          = 1 // CN_IDX_PROC
	cnValProc          = 1 // CN_VAL_PROC
	procCnMcastListen  = 1 // PROC_CN_MCAST_LISTEN
	procEventExec      = 0x00000002
	nlmsgHeaderLen     = 16
	cnMsgHeaderLen     = 20
	procEventHeaderLen = 16 // what, cpu, timestamp_ns
)

// execEvent is one exec seen by the connector.
type execEvent struct {
	pid  int           // as the benchmark (the initial PID namespace) sees it
	at   time.Duration // CLOCK_MONOTONIC, comparable with monotonic()
	comm string        // the program's name after the exec
}

// procEvents listens to the connector and hands the execs of one PID
// namespace at a time to whoever watches it.
type procEvents struct {
	fd int

	mu       sync.Mutex
	watchers map[uint64]*execWatch // by PID namespace inode
	err      error                 // set once events were lost or the socket failed
}

// execWatch receives the execs of one PID namespace.
type execWatch struct {
	events *procEvents
	ns     uint64
	c      chan execEvent
}

var (
	eventsOnce sync.Once
	events     *procEvents
	eventsErr  error
)

// procEventsListener returns the benchmark's one connector listener,
// opening it on first use.
func procEventsListener() (*procEvents, error) {
	eventsOnce.Do(func() {
		events, eventsErr = openProcEvents()
		if eventsErr == nil {
			go events.loop()
		}
	})
	return events, eventsErr
}

func openProcEvents() (*procEvents, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_CONNECTOR)
	if err != nil {
		return nil, fmt.Errorf("proc connector: socket: %w", err)
	}
	// A spawn storm of a thousand processes sends thousands of events
	// within milliseconds: a large buffer keeps the kernel from dropping
	// them while the benchmark reads /proc for each.
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 64<<20)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: cnIdxProc}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector: bind: %w", err)
	}
	msg := make([]byte, nlmsgHeaderLen+cnMsgHeaderLen+4)
	le := binary.LittleEndian
	le.PutUint32(msg[0:], uint32(len(msg)))
	le.PutUint16(msg[4:], unix.NLMSG_DONE)
	le.PutUint32(msg[12:], uint32(os.Getpid()))
	le.PutUint32(msg[16:], cnIdxProc)
	le.PutUint32(msg[20:], cnValProc)
	le.PutUint16(msg[32:], 4)
	le.PutUint32(msg[36:], procCnMcastListen)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("proc connector: listen: %w", err)
	}
	return &procEvents{fd: fd, watchers: map[uint64]*execWatch{}}, nil
}

// loop reads events for the rest of the run.
func (e *procEvents) loop() {
	buf := make([]byte, 1<<16)
	for {
		n, _, err := unix.Recvfrom(e.fd, buf, 0)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			e.fail(fmt.Errorf("proc connector: %w (events were lost)", err))
			if errors.Is(err, unix.ENOBUFS) {
				continue
			}
			return
		}
		e.handle(buf[:n])
	}
}

// handle dispatches the exec events of one datagram.
func (e *procEvents) handle(b []byte) {
	forEachProcEvent(b, func(what uint32, at time.Duration, data []byte) {
		if what == procEventExec {
			e.dispatch(int(binary.LittleEndian.Uint32(data[4:])), at) // process_tgid
		}
	})
}

// forEachProcEvent calls fn for each process event of a datagram read
// from the connector: its kind (PROC_EVENT_*), its time and its
// event_data, of which at least 8 bytes (the pid and tgid every kind
// starts with) are there.
func forEachProcEvent(b []byte, fn func(what uint32, at time.Duration, data []byte)) {
	le := binary.LittleEndian
	for len(b) >= nlmsgHeaderLen {
		size := int(le.Uint32(b))
		if size < nlmsgHeaderLen || size > len(b) {
			return
		}
		ev := b[nlmsgHeaderLen:size]
		b = b[(size+3)&^3:]
		if len(ev) < cnMsgHeaderLen+procEventHeaderLen+8 {
			continue
		}
		data := ev[cnMsgHeaderLen:]
		fn(le.Uint32(data), time.Duration(le.Uint64(data[8:])), data[procEventHeaderLen:])
	}
}

func (e *procEvents) dispatch(pid int, at time.Duration) {
	e.mu.Lock()
	empty := len(e.watchers) == 0
	e.mu.Unlock()
	if empty {
		return
	}
	ns, err := pidNamespace(pid)
	if err != nil {
		return // gone already: a process nobody measures exec'd and ended
	}
	e.mu.Lock()
	w := e.watchers[ns]
	e.mu.Unlock()
	if w == nil {
		return
	}
	select {
	case w.c <- execEvent{pid: pid, at: at, comm: comm(pid)}:
	default:
		e.fail(errors.New("proc connector: a watcher fell behind (events were lost)"))
	}
}

func (e *procEvents) fail(err error) {
	e.mu.Lock()
	if e.err == nil {
		e.err = err
	}
	e.mu.Unlock()
}

// watch returns the execs of the processes of p's PID namespace from now
// on. Close it when done.
func (e *procEvents) watch(p *proc) (*execWatch, error) {
	ns, err := pidNamespace(p.pid)
	if err != nil {
		return nil, err
	}
	w := &execWatch{events: e, ns: ns, c: make(chan execEvent, 1<<16)}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return nil, e.err
	}
	e.watchers[ns] = w
	return w, nil
}

// close stops the watch.
func (w *execWatch) close() {
	w.events.mu.Lock()
	if w.events.watchers[w.ns] == w {
		delete(w.events.watchers, w.ns)
	}
	w.events.mu.Unlock()
}

// err reports whether events were lost: a run that lost some must not be
// counted.
func (w *execWatch) err() error {
	w.events.mu.Lock()
	defer w.events.mu.Unlock()
	return w.events.err
}

// next returns the next exec of a program named name, or an error at the
// deadline or if p ended.
func (w *execWatch) next(p *proc, name string, deadline time.Time) (execEvent, error) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		select {
		case ev := <-w.c:
			if ev.comm == name {
				return ev, nil
			}
		case <-p.done:
			return execEvent{}, p.alive()
		case <-t.C:
			if err := w.err(); err != nil {
				return execEvent{}, err
			}
			return execEvent{}, fmt.Errorf("%s: no exec of %s in time%s", p.name, name, p.logTail())
		}
	}
}

// pidNamespace returns the inode of pid's PID namespace.
func pidNamespace(pid int) (uint64, error) {
	link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pid))
	if err != nil {
		return 0, err
	}
	var ino uint64
	if _, err := fmt.Sscanf(strings.TrimPrefix(link, "pid:"), "[%d]", &ino); err != nil {
		return 0, fmt.Errorf("pid %d: namespace %q: %w", pid, link, err)
	}
	return ino, nil
}

// startWatched starts a program with start, watching its namespace's execs
// from before its own exec, and waits until n processes named name have
// exec'd in it (until deadline), which it returns in order. On success the
// caller stops the program and closes the watch; on error both are done.
func startWatched(ctx context.Context, label string, start func(ready func(*proc) error) (*proc, error), name string, n int, deadline time.Time) (*proc, *execWatch, []execEvent, error) {
	events, err := procEventsListener()
	if err != nil {
		return nil, nil, nil, err
	}
	var w *execWatch
	p, err := start(func(p *proc) (err error) {
		w, err = events.watch(p)
		return err
	})
	if err != nil {
		if w != nil {
			w.close()
		}
		return nil, nil, nil, err
	}
	execs := make([]execEvent, 0, n)
	for range n {
		ev, err := w.next(p, name, deadline)
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			w.close()
			p.stop()
			return nil, nil, nil, fmt.Errorf("%s: %w", label, err)
		}
		execs = append(execs, ev)
	}
	if err := w.err(); err != nil {
		w.close()
		p.stop()
		return nil, nil, nil, err
	}
	return p, w, execs, nil
}
