package output

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// openFlags are the flags every log file is opened with. O_APPEND: never
// seek or truncate, so /dev/stdout, a FIFO or a file that logrotate
// truncates all work. O_NONBLOCK: opening a FIFO that has no reader fails
// with ENXIO instead of hanging taskmasterd until a reader comes; regular
// files ignore it, and Go keeps pipes non-blocking anyway, parking the
// writing goroutine while the pipe is full.
const openFlags = os.O_WRONLY | os.O_APPEND | os.O_CREATE | syscall.O_CLOEXEC | syscall.O_NONBLOCK

// FileSet shares open log files by path, so that instances writing to the
// same path share one descriptor and one lock, and reopens them all on
// request (SIGUSR1, after logrotate moved them away). The zero value is not
// usable: call NewFileSet.
type FileSet struct {
	log *slog.Logger

	mu    sync.Mutex // held across opening and closing files
	files map[fileKey]*logFile
}

// fileKey identifies an open log file: its path, and whose permissions it
// was opened with. Jobs of different users that log to one path each get a
// descriptor of their own, so that a reopen never follows, as one user, a
// link another user planted.
type fileKey struct {
	path  string
	owner string // "" for taskmasterd's own permissions
}

func keyOf(path string, owner *Owner) fileKey {
	k := fileKey{path: path}
	if owner != nil {
		k.owner = fmt.Sprintf("%d:%d:%v", owner.UID, owner.GID, owner.Groups)
	}
	return k
}

// logFile is one open path, shared by every File handle on it.
type logFile struct {
	key   fileKey
	path  string
	mode  os.FileMode // for a new file, less the process umask
	owner *Owner      // whose permissions it is opened with; nil: taskmasterd's
	refs  int         // guarded by FileSet.mu

	mu     sync.Mutex // held across each write and each swap of f
	f      *os.File   // guarded by mu; nil once the last handle is closed
	warned bool       // guarded by mu: a write error was logged since f was opened
}

// File is one handle on a log file of a FileSet. It is a Destination that
// appends lines to the file. Handles on the same path share the descriptor;
// each must be closed once.
type File struct {
	set    *FileSet
	lf     *logFile
	closed atomic.Bool
}

// NewFileSet returns an empty FileSet. log, when not nil, receives the first
// write error of each file.
func NewFileSet(log *slog.Logger) *FileSet {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &FileSet{log: log, files: make(map[fileKey]*logFile)}
}

// Open returns a handle on the log file at path, opening it (write-only,
// appending, created with mode 0666 less the umask if missing) unless the set
// already has it open. The error, an *fs.PathError, names the path: a
// missing directory is an error, and so is a FIFO that has no reader.
func (s *FileSet) Open(path string) (*File, error) {
	return s.OpenAs(path, 0o666, nil)
}

// OpenAs is Open with the permissions of owner (nil: taskmasterd's), and,
// for a new file, mode instead of 0666 (less the process umask as well).
// A path already open for the same owner is shared.
func (s *FileSet) OpenAs(path string, mode os.FileMode, owner *Owner) (*File, error) {
	path = filepath.Clean(path)
	s.mu.Lock()
	defer s.mu.Unlock()
	key := keyOf(path, owner)
	lf := s.files[key]
	if lf == nil {
		f, err := openFile(path, mode, owner)
		if err != nil {
			return nil, err
		}
		lf = &logFile{key: key, path: path, mode: mode, owner: owner, f: f}
		s.files[key] = lf
	}
	lf.refs++
	return &File{set: s, lf: lf}, nil
}

// Reopen opens again every path the set has open and swaps the new
// descriptor in for the old one, for logrotate's move-and-reopen. A line
// being written finishes in the old file; the next goes to the new one. A
// path that cannot be opened keeps its old descriptor; the returned error
// joins the errors of all such paths, each naming its path.
func (s *FileSet) Reopen() error {
	var errs []error
	for _, lf := range s.pinAll() {
		errs = append(errs, lf.reopen(), s.release(lf))
	}
	return errors.Join(errs...)
}

// pinAll returns every open file, sorted by path, each with one more
// reference so that it stays open while Reopen works on it. Reopen does not
// hold s.mu meanwhile: a write blocked on a full FIFO holds its file's lock,
// and that must not stall Open and Close of every other file.
func (s *FileSet) pinAll() []*logFile {
	s.mu.Lock()
	defer s.mu.Unlock()
	files := make([]*logFile, 0, len(s.files))
	for _, lf := range s.files {
		lf.refs++
		files = append(files, lf)
	}
	slices.SortFunc(files, func(a, b *logFile) int { return strings.Compare(a.path, b.path) })
	return files
}

// reopen opens the path again before it takes the write lock, so writers
// wait only for the swap. The caller holds a reference, so that the file is
// not closed meanwhile.
func (lf *logFile) reopen() error {
	f, err := openFile(lf.path, lf.mode, lf.owner)
	if err != nil {
		return err
	}
	lf.mu.Lock()
	old := lf.f
	lf.f, lf.warned = f, false
	lf.mu.Unlock()
	return old.Close()
}

// WriteLines appends p to the file with one write, under the file's lock.
// On error the lines are dropped; the first error since the file was
// (re)opened is logged.
func (f *File) WriteLines(p []byte) {
	lf := f.lf
	lf.mu.Lock()
	defer lf.mu.Unlock()
	if lf.f == nil {
		return // written after Close: a bug in the caller, and nowhere to write
	}
	if _, err := lf.f.Write(p); err != nil && !lf.warned {
		lf.warned = true
		f.set.log.Warn("cannot write log file; dropping output until it is reopened",
			"path", lf.path, "err", err)
	}
}

// Close drops this handle's reference to the file, and closes the file when
// it was the last. Closing a handle twice returns os.ErrClosed.
func (f *File) Close() error {
	if f.closed.Swap(true) {
		return os.ErrClosed
	}
	return f.set.release(f.lf)
}

func (s *FileSet) release(lf *logFile) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	lf.refs--
	if lf.refs > 0 {
		return nil
	}
	delete(s.files, lf.key)
	lf.mu.Lock()
	defer lf.mu.Unlock()
	err := lf.f.Close()
	lf.f = nil
	return err
}
