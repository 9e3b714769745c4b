package jobfile

import (
	"time"

	"golang.org/x/sys/unix"
)

// Cache remembers the job files its LoadDir parsed, so that reloading a
// directory of a thousand files of which one changed reads and parses that
// one, and only stats the others: reading and parsing every file cost about
// 40 µs and 125 allocations each, which a reload after one changed file
// paid for the whole directory. The zero Cache is ready to use. A Cache is
// not safe for concurrent use: the supervisor calls it under its reload
// lock.
//
// A file is reused while its identity is the same: device, inode, size,
// modification and change time, as stat sees them through symbolic links
// (a ConfigMap's swap of ..data changes the inode). Some are never reused,
// and are read and parsed on every load as before:
//
//   - a file changed within the last racyWindow: the kernel's file
//     timestamps are coarse, so a second write of the same size within one
//     tick would keep the identity the cache saw;
//   - a file with errors, and a job with a "user", whose validity depends
//     on the user database, not only on the file.
type Cache struct {
	dir     string                // the directory the entries are of
	entries map[string]cachedFile // by file name
	load    uint64                // counts the loads, to tell the files gone
	now     func() time.Time      // tests; nil: time.Now
}

// cachedFile is a file as loadFile parsed it, with the identity it had.
type cachedFile struct {
	id     fileID
	loaded Loaded
	seen   uint64 // the last load that found the file
}

// fileID is what tells that a file changed.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime unix.Timespec
}

// racyWindow is how old a file's last change must be for the cache to
// keep it: well beyond the kernel's timestamp granularity (a jiffy).
const racyWindow = 2 * time.Second

// LoadDir is the package's LoadDir, which it returns the same result as,
// reusing what it parsed before for the files unchanged since. It forgets
// the files that are gone, and all of them when dir is another directory.
func (c *Cache) LoadDir(dir string) (map[string]Loaded, error) {
	if dir != c.dir {
		c.dir, c.entries = dir, nil
	}
	c.load++
	jobs, err := loadDir(dir, c.loadFile)
	for name, e := range c.entries {
		if e.seen != c.load {
			delete(c.entries, name)
		}
	}
	return jobs, err
}

// loadFile returns the cached parse of f if the file is unchanged, else
// reads and parses it, keeping the result when it may be reused. The stat
// is relative to the directory open: no path to build, nor for the kernel
// to walk, for each of a thousand files.
func (c *Cache) loadFile(f dirFile) Loaded {
	var st unix.Stat_t
	if err := unix.Fstatat(f.dirfd, f.name, &st, 0); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		delete(c.entries, f.name)
		return loadFile(f.path()) // which says what is wrong
	}
	id := fileID{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim, ctime: st.Ctim}
	if e, ok := c.entries[f.name]; ok && e.id == id {
		e.seen = c.load
		c.entries[f.name] = e
		return e.loaded
	}
	// Read after the stat: a change in between makes the next load's
	// stat differ from id, and that load read the file again.
	l := loadFile(f.path())
	changed := time.Unix(st.Ctim.Unix())
	if l.Err != nil || l.Spec.User != nil || c.clock().Sub(changed) < racyWindow {
		delete(c.entries, f.name)
		return l
	}
	if c.entries == nil {
		c.entries = map[string]cachedFile{}
	}
	c.entries[f.name] = cachedFile{id: id, loaded: l, seen: c.load}
	return l
}

// clock returns the time now.
func (c *Cache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}
