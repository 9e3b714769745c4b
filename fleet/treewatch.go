package fleet

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// treeMask is what is watched on -fleet-jobs and each directory in it.
const treeMask = unix.IN_CREATE | unix.IN_DELETE | unix.IN_CLOSE_WRITE | unix.IN_MOVED_FROM |
	unix.IN_MOVED_TO | unix.IN_ATTRIB | unix.IN_MODIFY | unix.IN_DELETE_SELF | unix.IN_ONLYDIR

// treeQuiet is how long a burst of changes must be quiet before it is
// notified: an editor's save, a git checkout, a cp -r is one notification.
const treeQuiet = 100 * time.Millisecond

// treeWatch notices changes in a directory and the directories right in
// it (-fleet-jobs: common/ and one per agent) with a single inotify
// instance, however many agents there are. It does not tell what changed:
// the job files are read again, which is cheap. Idle, it never wakes up.
type treeWatch struct {
	root    string
	file    *os.File // the inotify fd, parked in Go's poller
	conn    syscall.RawConn
	changed func()
	wg      sync.WaitGroup
}

// watchTree starts watching root; changed is called after each burst of
// changes, from the watcher's goroutine.
func watchTree(root string, changed func()) (*treeWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("watch %s: inotify_init1: %w", root, err)
	}
	w := &treeWatch{root: root, file: os.NewFile(uintptr(fd), "inotify"), changed: changed}
	if w.conn, err = w.file.SyscallConn(); err != nil {
		w.file.Close()
		return nil, err
	}
	if err := w.arm(); err != nil {
		w.file.Close()
		return nil, err
	}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

// arm watches root and every directory in it; a directory already
// watched keeps its watch.
func (w *treeWatch) arm() error {
	if err := w.add(w.root); err != nil {
		return fmt.Errorf("watch %s: %w", w.root, err)
	}
	entries, err := os.ReadDir(w.root)
	if err != nil {
		return fmt.Errorf("watch %s: %w", w.root, err)
	}
	for _, e := range entries {
		if e.IsDir() {
			_ = w.add(filepath.Join(w.root, e.Name())) // gone meanwhile: nothing to watch
		}
	}
	return nil
}

func (w *treeWatch) add(path string) error {
	var err error
	cerr := w.conn.Control(func(fd uintptr) { _, err = unix.InotifyAddWatch(int(fd), path, treeMask) })
	if cerr != nil {
		return cerr
	}
	return err
}

// loop reads events until Close, and notifies each burst once quiet.
func (w *treeWatch) loop() {
	defer w.wg.Done()
	events := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 16<<10)
		for {
			if _, err := w.file.Read(buf); err != nil {
				return
			}
			select {
			case events <- struct{}{}:
			default:
			}
		}
	}()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var fire <-chan time.Time
	for {
		select {
		case <-events:
			timer.Reset(treeQuiet)
			fire = timer.C
		case <-fire:
			fire = nil
			_ = w.arm() // new agent directories
			w.changed()
		case <-done:
			timer.Stop()
			return
		}
	}
}

// Close stops watching.
func (w *treeWatch) Close() error {
	err := w.file.Close()
	w.wg.Wait()
	return err
}
