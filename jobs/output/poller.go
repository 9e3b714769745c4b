package output

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/internal/epoll"
)

// Poller pumps the read ends of many pipes, line by line, as Pump does for
// one, without a goroutine per pipe: taskmasterd has two pipes per process,
// and most of them stay quiet for hours. A goroutine blocked in Read would
// keep a stack (2 KiB or more) and a buffer for each.
//
// One epoll instance watches every pipe, each registered for one event at a
// time (EPOLLONESHOT). The epoll descriptor is itself watched by the Go
// runtime's poller, so no thread blocks in epoll_wait. When a pipe has data,
// a goroutine drains it until the pipe is empty (a busy stream's drain
// first waits a moment for more: see linger), and only then is the pipe
// watched again. A stream therefore has at most one goroutine, only while it
// has something to read, and a Destination that blocks holds up its own
// stream only: its pipe fills and its process blocks, as with Pump.
//
// An idle stream keeps no buffer unless it holds part of a line or its
// buffer is still growing. A stream whose buffer grew to its full size
// (maxBuffer) gets a full-size one from a pool when its pipe has data
// again: a busy stream is likely to be busy again.
type Poller struct {
	ep *epoll.Epoll

	mu      sync.Mutex
	streams map[uint64]*stream // by id, the epoll data of the stream's events
	nextID  uint64
	closed  bool

	drains sync.WaitGroup // the drains under way, for Shutdown to wait for
}

// stream is one pipe a Poller pumps.
type stream struct {
	id       uint64
	fd       int // read end of the pipe, non-blocking
	pump     pump
	done     func()
	draining bool // a goroutine drains it; its pipe is not watched meanwhile
	busy     bool // its buffer had grown to maxBuffer when it paused: its next drain starts with one
	enlarged bool // growPipe was called for its pipe
}

// NewPoller returns a Poller with no streams. Close it to free its
// descriptor and goroutine.
func NewPoller() (*Poller, error) {
	ep, err := epoll.New()
	if err != nil {
		return nil, err
	}
	p := &Poller{ep: ep, streams: make(map[uint64]*stream)}
	go p.run(ep)
	return p, nil
}

// Add pumps the read end of a pipe, fd, to dst and, when ring is not nil,
// to ring, with everything Pump guarantees. The Poller owns fd from then on:
// it makes it non-blocking and, once the pipe has ended (all its write ends
// are closed) and the last line is passed on, closes it and calls done.
//
// done must not block for long: it may be called from the goroutine that
// watches every pipe. Should epoll refuse fd, Add pumps it with a goroutine
// of its own: output is never left unread.
func (p *Poller) Add(fd int, dst Destination, ring *Ring, done func()) {
	p.AddTapped(fd, dst, ring, nil, done)
}

// AddTapped is Add that also shows every read of fd to tap, as it comes
// and before it is cut into lines. fd may be a terminal's master side
// (a pty): it ends as a pipe does once every process has closed the
// terminal, with EIO instead of end of file.
func (p *Poller) AddTapped(fd int, dst Destination, ring *Ring, tap Tap, done func()) {
	s := &stream{fd: fd, pump: pump{dst: dst, ring: ring, tap: tap}, done: done}
	p.mu.Lock()
	err := errors.New("output: poller closed")
	if !p.closed {
		p.nextID++
		s.id = p.nextID
		if err = unix.SetNonblock(fd, true); err == nil {
			err = p.ep.Ctl(unix.EPOLL_CTL_ADD, fd, s.event())
			if err != nil {
				// Blocking again for pumpAlone: should the runtime's
				// poller refuse it too (epoll is full), a non-blocking
				// read would fail with EAGAIN and end the stream.
				_ = unix.SetNonblock(fd, false)
			}
		}
		if err == nil {
			p.streams[s.id] = s
		}
	}
	p.mu.Unlock()
	if err != nil {
		go pumpAlone(fd, dst, ring, tap, done)
	}
}

// pumpAlone pumps fd with Pump, for a pipe epoll does not take.
func pumpAlone(fd int, dst Destination, ring *Ring, tap Tap, done func()) {
	f := os.NewFile(uintptr(fd), "pipe")
	_ = pumpTapped(f, dst, ring, tap)
	_ = f.Close()
	done()
}

// event is what the stream's pipe is watched for: readable (or ended), once.
func (s *stream) event() *unix.EpollEvent {
	return &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLONESHOT, Fd: int32(s.id), Pad: int32(s.id >> 32)}
}

// run waits for pipes with data and starts a drain for each, until Close.
func (p *Poller) run(ep *epoll.Epoll) {
	events := make([]unix.EpollEvent, 64)
	for {
		n, err := ep.Wait(events)
		if err != nil {
			return // closed (epoll_wait fails on nothing else)
		}
		p.mu.Lock()
		var ended []*stream
		for _, ev := range events[:n] {
			s := p.streams[uint64(uint32(ev.Fd))|uint64(uint32(ev.Pad))<<32]
			switch {
			case s == nil || s.draining:
			case ev.Events&unix.EPOLLIN == 0 && s.pump.held == 0:
				// Ended with nothing left to read or pass on: how a quiet
				// process's pipes end. No goroutine for that: when a job of
				// hundreds of processes stops, its pipes all end at once.
				p.forget(s)
				ended = append(ended, s)
			default:
				s.draining = true
				p.drains.Add(1)
				go p.drain(s)
			}
		}
		p.mu.Unlock()
		for _, s := range ended {
			s.end()
		}
	}
}

// drain reads the stream's pipe until it is empty, then watches it again,
// or until it ends, then closes it.
func (p *Poller) drain(s *stream) {
	defer p.drains.Done()
	ended := s.readAll(true)
	p.mu.Lock()
	s.draining = false
	if !ended && !p.closed {
		if err := p.ep.Ctl(unix.EPOLL_CTL_MOD, s.fd, s.event()); err == nil {
			p.mu.Unlock()
			return
		}
	}
	p.forget(s)
	p.mu.Unlock()
	s.end()
}

// forget stops watching s. p.mu must be held.
func (p *Poller) forget(s *stream) {
	delete(p.streams, s.id)
	if !p.closed {
		// Removed from epoll before it is closed: a child being forked
		// now holds a copy of the descriptor until it execs, which would
		// keep the closed one registered.
		_ = p.ep.Ctl(unix.EPOLL_CTL_DEL, s.fd, nil)
	}
}

// readAll reads until the pipe is empty, and reports whether it ended
// (end of input or a read error). A busy stream lingers first, when
// linger is true: not at shutdown, where what is left is read at once.
func (s *stream) readAll(linger bool) (ended bool) {
	p := &s.pump
	if p.buf == nil {
		p.buf = getBuffer(s.busy)
	}
	for {
		n, err := unix.Read(s.fd, p.buf[p.held:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			if linger && len(p.buf) == maxBuffer && s.linger() {
				continue
			}
			if p.held == 0 {
				s.busy = len(p.buf) == maxBuffer
				if putBuffer(p.buf) {
					p.buf = nil
				}
			}
			return false
		case err != nil || n == 0:
			return true
		}
		full := p.held+n == len(p.buf)
		p.take(n)
		if full {
			p.grow()
			// A buffer larger than the kernel's pipe could not fill:
			// the pipe grows with it.
			if len(p.buf) > 64<<10 && !s.enlarged {
				s.enlarged = true
				growPipe(s.fd)
			}
		}
	}
}

// A busy stream lingers: once its pipe is empty, its drain waits for more
// in poll(2), for up to lingerTimeout, before it gives the pipe back to
// epoll. A process that writes without pause refills its pipe within
// microseconds, and each return to epoll costs an epoll_ctl, a wake-up of
// the runtime's poller and a new goroutine: about two context switches per
// MiB, which made PID 1's CPU time, not the copy, the cost of a busy
// stream. A lingering drain holds a thread blocked in poll, so at most
// maxLingering streams linger at once; the others go back to epoll, as
// quiet streams always do, and an idle taskmasterd still never wakes.
const (
	lingerTimeout = 100 // milliseconds
	maxLingering  = 4
)

// lingering counts the drains waiting in linger.
var lingering atomic.Int32

// linger waits up to lingerTimeout for s's pipe to have data again, or to
// end, and reports whether it did. It reports false at once when
// maxLingering drains linger already.
func (s *stream) linger() bool {
	if lingering.Add(1) > maxLingering {
		lingering.Add(-1)
		return false
	}
	defer lingering.Add(-1)
	fds := []unix.PollFd{{Fd: int32(s.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, lingerTimeout)
		if err == unix.EINTR {
			continue
		}
		// Readable, hung up or in error: the next read says which.
		return err == nil && n > 0
	}
}

// growPipe raises the capacity of a busy stream's pipe (one that was full
// when read) from the kernel's 64 KiB to maxBuffer, as far as /proc/sys/fs/pipe-max-size allows: the
// process then writes a MiB before it waits for taskmasterd, and
// taskmasterd reads a MiB each time it wakes. The kernel allocates a pipe's
// pages as they are written, so a pipe that empties costs no more than
// before. A terminal is not a pipe, and a refusal (the user's limit on pipe
// buffers) leaves the pipe as it was: either way nothing changes but speed.
func growPipe(fd int) {
	if size := pipeSize(); size > 64<<10 {
		_, _ = unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, size)
	}
}

// pipeSize is the capacity growPipe asks for: maxBuffer, or
// /proc/sys/fs/pipe-max-size if that is lower.
var pipeSize = sync.OnceValue(func() int {
	b, err := os.ReadFile("/proc/sys/fs/pipe-max-size")
	if err != nil {
		return maxBuffer
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return maxBuffer
	}
	return min(n, maxBuffer)
})

// end passes on the stream's last line, closes its pipe and tells its
// owner.
func (s *stream) end() {
	if s.pump.held > 0 { // then it has a buffer
		s.pump.finish()
	}
	putBuffer(s.pump.buf)
	s.pump.buf = nil
	_ = unix.Close(s.fd)
	s.done()
}

// Close is Shutdown with no time limit.
func (p *Poller) Close() error {
	return p.Shutdown(context.Background())
}

// Shutdown stops the Poller. The streams it still pumps are read until
// their pipe is empty (or ended) and then ended as at the end of their
// input; those being drained end when their drain does, and Shutdown waits
// for them. taskmasterd shuts its Poller down last, once its processes, and
// so their pipes, are gone: what they wrote last still reaches its
// destination. A destination that blocks (a FIFO nobody reads) could hold
// that up for ever: once ctx ends, Shutdown returns ctx's error without
// waiting further, and the streams still held up end on their own, if ever.
func (p *Poller) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	var idle []*stream
	for _, s := range p.streams {
		if !s.draining {
			idle = append(idle, s)
			p.forget(s)
		}
	}
	p.closed = true
	p.mu.Unlock()
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		for _, s := range idle {
			// The pipe may hold output whose event run has not handled yet.
			s.readAll(false)
			s.end()
		}
		p.drains.Wait()
	}()
	var err error
	select {
	case <-ended:
	case <-ctx.Done():
		err = ctx.Err()
	}
	// No stream uses the epoll instance any more: closing it ends run.
	return errors.Join(err, p.ep.Close())
}

// buffers holds the minBuffer-byte buffers of idle streams, bigBuffers
// the maxBuffer-byte ones of busy streams that paused: an idle stream holds
// no buffer, however busy it was.
var (
	buffers    = sync.Pool{New: func() any { return new([minBuffer]byte) }}
	bigBuffers = sync.Pool{New: func() any { return new([maxBuffer]byte) }}
)

// getBuffer returns a buffer of maxBuffer bytes for a busy stream, of
// minBuffer bytes for another.
func getBuffer(busy bool) []byte {
	if busy {
		return bigBuffers.Get().(*[maxBuffer]byte)[:]
	}
	return buffers.Get().(*[minBuffer]byte)[:]
}

// putBuffer gives back a buffer of minBuffer or maxBuffer bytes, and
// reports whether it took it: a stream keeps a buffer of another size, one
// that is still growing.
func putBuffer(b []byte) bool {
	switch len(b) {
	case minBuffer:
		buffers.Put((*[minBuffer]byte)(b))
	case maxBuffer:
		bigBuffers.Put((*[maxBuffer]byte)(b))
	default:
		return false
	}
	return true
}
