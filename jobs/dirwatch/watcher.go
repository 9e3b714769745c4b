package dirwatch

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// jobSuffix is the suffix of job file names. It repeats jobfile.Suffix so
// that this package depends on nothing but the standard library and x/sys.
const jobSuffix = ".tm.json"

// relevant reports whether a change to the directory entry name can change
// the set of jobs. See the package documentation.
func relevant(name string) bool {
	if strings.HasPrefix(name, "..") {
		return true
	}
	return !strings.HasPrefix(name, ".") && strings.HasSuffix(name, jobSuffix)
}

// A Watcher watches one job directory. Create it with New, receive
// notifications from C, and stop it with Close.
type Watcher struct {
	// C receives a value when the directory changed since the last value
	// was received. It has room for one value, so notifications coalesce;
	// it is never closed. In Off mode it never fires.
	C <-chan struct{}

	c       chan struct{} // C, writable
	raw     chan struct{} // undebounced changes, room for one
	done    chan struct{} // closed by Close
	log     *slog.Logger
	wg      sync.WaitGroup
	once    sync.Once
	closeFn func() error // unblocks the source; nil when there is none
	closeE  error

	// wakeups counts loop iterations of the watcher's goroutines, so tests
	// can check that an idle inotify watcher does not wake up.
	wakeups atomic.Int64
}

// New starts watching dir. Changes made after New returns are notified.
// An error names dir; in Inotify mode it suggests "-watch poll" when the
// kernel refuses (for example when the per-user inotify limit is reached).
func New(dir string, opt Options) (*Watcher, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("watch %q: %w", dir, err)
	}
	if dir == "" {
		return nil, errors.New("watch: empty directory name")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("watch %q: %w", dir, err)
	}
	c := make(chan struct{}, 1)
	w := &Watcher{
		C:    c,
		c:    c,
		raw:  make(chan struct{}, 1),
		done: make(chan struct{}),
		log:  opt.Logger.With("dir", abs),
	}
	switch opt.Mode {
	case Off:
		return w, nil
	case Poll:
		w.startPoll(abs, opt.PollInterval)
	default:
		if err := w.startInotify(abs); err != nil {
			return nil, err
		}
	}
	d := debouncer{quiet: opt.Debounce, max: opt.MaxDelay}
	w.wg.Go(func() { w.debounceLoop(d) })
	return w, nil
}

// Close stops the watcher and waits for its goroutines to end. It is safe
// to call more than once; later calls return the first call's result.
func (w *Watcher) Close() error {
	w.once.Do(func() {
		close(w.done)
		if w.closeFn != nil {
			w.closeE = w.closeFn()
		}
		w.wg.Wait()
	})
	return w.closeE
}

// kick reports an undebounced change. It never blocks: a change already
// pending stands for this one too.
func (w *Watcher) kick() {
	select {
	case w.raw <- struct{}{}:
	default:
	}
}

// notify sends a debounced notification without blocking: one already
// waiting in C stands for this one too.
func (w *Watcher) notify() {
	select {
	case w.c <- struct{}{}:
	default:
	}
}

// closing reports whether Close has been called.
func (w *Watcher) closing() bool {
	select {
	case <-w.done:
		return true
	default:
		return false
	}
}
