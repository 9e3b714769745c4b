package dirwatch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"iter"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// armRetry is how long the read loop waits before it tries again to watch
// after inotify_add_watch failed for a reason other than a missing path.
const armRetry = 5 * time.Second

// readBufSize holds hundreds of events; the kernel queues the rest.
const readBufSize = 64 << 10

// event is one inotify event.
type event struct {
	wd   int
	mask uint32
	name string // the entry's name in the watched directory; "" for the directory itself
}

// events yields the events in buf, as read from an inotify fd.
func events(buf []byte) iter.Seq[event] {
	return func(yield func(event) bool) {
		for len(buf) >= unix.SizeofInotifyEvent {
			end := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[12:16]))
			if end > len(buf) {
				return
			}
			name := buf[unix.SizeofInotifyEvent:end]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i] // the kernel pads names with NULs
			}
			ev := event{
				wd:   int(int32(binary.NativeEndian.Uint32(buf[0:4]))),
				mask: binary.NativeEndian.Uint32(buf[4:8]),
				name: string(name),
			}
			if !yield(ev) {
				return
			}
			buf = buf[end:]
		}
	}
}

// readLoop handles inotify events until Close closes the file. Read parks
// in Go's poller, so while nothing happens this goroutine never wakes.
func (in *inotify) readLoop() {
	buf := make([]byte, readBufSize)
	for {
		n, err := in.file.Read(buf)
		in.w.wakeups.Add(1)
		switch {
		case errors.Is(err, os.ErrDeadlineExceeded):
			in.rearm() // the retry after a failed arm
			continue
		case errors.Is(err, os.ErrClosed):
			return
		case err != nil:
			in.w.log.Error("reading inotify events failed; job directory changes are no longer seen", "err", err)
			return
		}
		for ev := range events(buf[:n]) {
			in.handle(ev)
		}
	}
}

// handle acts on one event.
func (in *inotify) handle(ev event) {
	switch {
	case ev.mask&unix.IN_Q_OVERFLOW != 0:
		// Events were lost, perhaps the removal of the directory itself:
		// reload, and watch afresh.
		in.w.log.Warn("inotify event queue overflowed; reloading")
		in.w.kick()
		in.rearm()
	case ev.wd != in.wd:
		// Left over from a watch already replaced (its IN_IGNORED, mostly).
	case in.watched == in.dir:
		in.dirEvent(ev)
	default:
		in.ancestorEvent(ev)
	}
}

// dirEvent handles an event on the job directory.
func (in *inotify) dirEvent(ev event) {
	if ev.mask&goneMask != 0 {
		in.w.kick()
		in.rearm()
		return
	}
	if relevant(ev.name) {
		in.w.kick()
	}
}

// ancestorEvent handles an event on the ancestor watched while the job
// directory is missing: the next path component may have appeared, or the
// ancestor itself may be gone.
func (in *inotify) ancestorEvent(ev event) {
	if ev.mask&goneMask != 0 || ev.name == in.nextName() {
		in.rearm()
	}
}

// rearm watches afresh, logs whether the directory went or came, and
// notifies when it came. If the kernel refuses, it schedules a retry
// through the read deadline, so no other goroutine or timer is needed.
func (in *inotify) rearm() {
	had := in.watched == in.dir
	if err := in.arm(); err != nil {
		if in.w.closing() {
			return // Close closed the fd under us
		}
		in.w.log.Error("cannot watch the job directory; retrying", "err", err, "retry", armRetry)
		_ = in.file.SetReadDeadline(time.Now().Add(armRetry))
		return
	}
	_ = in.file.SetReadDeadline(time.Time{})
	switch has := in.watched == in.dir; {
	case had && !has:
		in.w.log.Info("job directory gone; waiting for it to appear", "watching", in.watched)
	case !had && has:
		in.w.log.Info("job directory appeared")
		in.w.kick()
	}
}
