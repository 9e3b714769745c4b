package dirwatch

import (
	"maps"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// fileID is what Poll mode compares of one file: a change to the content,
// or its replacement by another file, changes it.
type fileID struct {
	dev, ino uint64
	mode     uint32
	size     int64
	mtime    int64 // nanoseconds since the epoch
}

// entry is one relevant name of the directory.
type entry struct {
	self   fileID // the entry itself (lstat)
	target fileID // for a symlink, what it points to (stat); zero if dangling
}

// snapshot is the state of the directory as Poll mode sees it.
type snapshot struct {
	// dir is the directory's identity only (dev, inode): its mtime changes
	// with every irrelevant file too. It is zero when dir cannot be read.
	dir     fileID
	entries map[string]entry
}

func (s snapshot) equal(o snapshot) bool {
	return s.dir == o.dir && maps.Equal(s.entries, o.entries)
}

// startPoll takes the first snapshot, so that changes made after New
// returns are seen, and starts the poll loop.
func (w *Watcher) startPoll(dir string, every time.Duration) {
	prev := takeSnapshot(dir)
	if prev.dir == (fileID{}) {
		w.log.Info("job directory does not exist or cannot be read; waiting for it to appear")
	}
	w.wg.Go(func() { w.pollLoop(dir, every, prev) })
}

// pollLoop compares a snapshot of dir every interval and reports changes.
func (w *Watcher) pollLoop(dir string, every time.Duration, prev snapshot) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-tick.C:
		}
		w.wakeups.Add(1)
		cur := takeSnapshot(dir)
		if !cur.equal(prev) {
			w.kick()
		}
		prev = cur
	}
}

// takeSnapshot reads the identity of dir and of its relevant entries. A
// directory that is missing or unreadable gives the zero snapshot, so that
// its disappearance and its return both count as changes.
func takeSnapshot(dir string) snapshot {
	var s snapshot
	f, err := os.Open(dir)
	if err != nil {
		return s
	}
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return s
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		return s
	}
	s.dir = fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}
	s.entries = make(map[string]entry)
	for _, name := range names {
		if relevant(name) {
			s.entries[name] = entryOf(filepath.Join(dir, name))
		}
	}
	return s
}

// entryOf returns the identity of the file at path and, if it is a
// symlink, of its target. A file that vanished since it was listed gets
// the zero entry; the next snapshot will not list it.
func entryOf(path string) entry {
	var e entry
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return e
	}
	e.self = idOf(&st)
	if st.Mode&unix.S_IFMT == unix.S_IFLNK && unix.Stat(path, &st) == nil {
		e.target = idOf(&st)
	}
	return e
}

func idOf(st *unix.Stat_t) fileID {
	return fileID{
		dev:   uint64(st.Dev),
		ino:   uint64(st.Ino),
		mode:  st.Mode,
		size:  st.Size,
		mtime: st.Mtim.Nano(),
	}
}
