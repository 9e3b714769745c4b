package dirwatch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// dirMask is what is watched on the job directory itself.
const dirMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_CLOSE_WRITE |
	unix.IN_MOVED_FROM | unix.IN_MOVED_TO | unix.IN_ATTRIB | unix.IN_MODIFY |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// ancestorMask is what is watched on the nearest existing ancestor while
// the directory is missing: enough to see the next path component appear,
// or the ancestor itself go away.
const ancestorMask = unix.IN_CREATE | unix.IN_MOVED_TO |
	unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_ONLYDIR

// goneMask marks events after which the watched inode is no longer at its
// path, or no longer watched at all.
const goneMask = unix.IN_DELETE_SELF | unix.IN_MOVE_SELF | unix.IN_IGNORED | unix.IN_UNMOUNT

// maxArmTries bounds the retries of arm when a path component keeps
// appearing and vanishing under it; arm then keeps the ancestor's watch,
// whose next event re-arms.
const maxArmTries = 8

// inotify is the state of Inotify mode. Only its read loop goroutine uses
// it once New has returned.
type inotify struct {
	w       *Watcher
	file    *os.File        // the inotify fd, so that Read parks in Go's poller
	conn    syscall.RawConn // file's fd, for inotify_add_watch and inotify_rm_watch
	dir     string          // the absolute path of the job directory
	wd      int             // the current watch descriptor, -1 when none
	watched string          // the path wd watches: dir or an ancestor
}

// startInotify creates the inotify instance, watches dir (or its nearest
// existing ancestor) and starts the read loop.
func (w *Watcher) startInotify(dir string) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return fmt.Errorf("watch %q: inotify_init1: %w%s", dir, err, hint(err))
	}
	// A non-blocking fd makes os.NewFile register it with the poller: Read
	// blocks without holding a thread, and Close unblocks it.
	in := &inotify{w: w, file: os.NewFile(uintptr(fd), "inotify"), dir: dir, wd: -1}
	if in.conn, err = in.file.SyscallConn(); err != nil {
		in.file.Close()
		return fmt.Errorf("watch %q: %w", dir, err)
	}
	if err := in.arm(); err != nil {
		in.file.Close()
		return err
	}
	if in.watched != dir {
		w.log.Info("job directory does not exist; waiting for it to appear", "watching", in.watched)
	}
	w.closeFn = in.file.Close
	w.wg.Go(in.readLoop)
	return nil
}

// arm watches dir if it exists, else its nearest existing ancestor,
// replacing the current watch.
func (in *inotify) arm() error {
	in.unwatch()
	for try := 1; ; try++ {
		if err := in.watchNearest(); err != nil {
			return err
		}
		if in.watched == in.dir || try == maxArmTries || !in.nextIsDir() {
			return nil
		}
		// The next component appeared between the failed watch of the
		// deeper path and the watch of the ancestor: its creation event
		// was missed, so look again.
		in.unwatch()
	}
}

// watchNearest watches dir or, walking up, the first ancestor that exists.
func (in *inotify) watchNearest() error {
	for p := in.dir; ; p = filepath.Dir(p) {
		mask := uint32(ancestorMask)
		if p == in.dir {
			mask = dirMask
		}
		wd, err := in.addWatch(p, mask)
		if err == nil {
			in.wd, in.watched = wd, p
			return nil
		}
		if !isMissing(err) || p == filepath.Dir(p) {
			return fmt.Errorf("watch %q: inotify_add_watch %q: %w%s", in.dir, p, err, hint(err))
		}
	}
}

// nextIsDir reports whether the path component below the watched ancestor,
// on the way to dir, is now a directory.
func (in *inotify) nextIsDir() bool {
	fi, err := os.Stat(filepath.Join(in.watched, in.nextName()))
	return err == nil && fi.IsDir()
}

// nextName returns the name of the path component below the watched
// ancestor on the way to dir.
func (in *inotify) nextName() string {
	rel, err := filepath.Rel(in.watched, in.dir)
	if err != nil {
		return ""
	}
	first, _, _ := strings.Cut(rel, string(filepath.Separator))
	return first
}

// unwatch removes the current watch. The kernel may already have removed
// it (the inode was deleted), so errors mean nothing.
func (in *inotify) unwatch() {
	if in.wd >= 0 {
		_ = in.conn.Control(func(fd uintptr) { _, _ = unix.InotifyRmWatch(int(fd), uint32(in.wd)) })
	}
	in.wd, in.watched = -1, ""
}

// addWatch calls inotify_add_watch through conn, which keeps the fd open
// while the call runs: a concurrent Close cannot let the number be reused.
func (in *inotify) addWatch(path string, mask uint32) (wd int, err error) {
	cerr := in.conn.Control(func(fd uintptr) { wd, err = unix.InotifyAddWatch(int(fd), path, mask) })
	if cerr != nil {
		return -1, cerr
	}
	return wd, err
}

// isMissing reports whether err from inotify_add_watch means the path is
// not (yet) a directory.
func isMissing(err error) bool {
	return errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)
}

// hint explains the inotify errors an operator can do something about.
func hint(err error) string {
	switch {
	case errors.Is(err, unix.EMFILE):
		return " (the per-user limit of inotify instances, fs.inotify.max_user_instances, is reached; raise it or use -watch poll)"
	case errors.Is(err, unix.ENOSPC):
		return " (the per-user limit of inotify watches, fs.inotify.max_user_watches, is reached; raise it or use -watch poll)"
	case errors.Is(err, unix.ENFILE), errors.Is(err, unix.ENOMEM):
		return " (the system is out of resources; use -watch poll)"
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
		return " (inotify is not available here; use -watch poll)"
	}
	return ""
}
