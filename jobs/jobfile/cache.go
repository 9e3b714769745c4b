package jobfile

import (
	"syscall"
	"time"
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
	entries map[string]cachedFile // by path
	now     func() time.Time      // tests; nil: time.Now
}

// cachedFile is a file as loadFile parsed it, with the identity it had.
type cachedFile struct {
	id     fileID
	loaded Loaded
}

// fileID is what tells that a file changed.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime syscall.Timespec
}

// racyWindow is how old a file's last change must be for the cache to
// keep it: well beyond the kernel's timestamp granularity (a jiffy).
const racyWindow = 2 * time.Second

// LoadDir is the package's LoadDir, which it returns the same result as,
// reusing what it parsed before for the files unchanged since. It forgets
// the files that are gone.
func (c *Cache) LoadDir(dir string) (map[string]Loaded, error) {
	seen := make(map[string]bool, len(c.entries))
	jobs, err := loadDir(dir, func(path string) Loaded {
		seen[path] = true
		return c.load(path)
	})
	for path := range c.entries {
		if !seen[path] {
			delete(c.entries, path)
		}
	}
	return jobs, err
}

// load returns the cached parse of path if the file is unchanged, else
// reads and parses it, keeping the result when it may be reused.
func (c *Cache) load(path string) Loaded {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		delete(c.entries, path)
		return loadFile(path) // which says what is wrong
	}
	id := fileID{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim, ctime: st.Ctim}
	if e, ok := c.entries[path]; ok && e.id == id {
		return e.loaded
	}
	// Read after the stat: a change in between makes the next load's
	// stat differ from id, and that load read the file again.
	l := loadFile(path)
	changed := time.Unix(st.Ctim.Unix())
	if l.Err != nil || l.Spec.User != nil || c.clock().Sub(changed) < racyWindow {
		delete(c.entries, path)
		return l
	}
	if c.entries == nil {
		c.entries = map[string]cachedFile{}
	}
	c.entries[path] = cachedFile{id: id, loaded: l}
	return l
}

// clock returns the time now.
func (c *Cache) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}
