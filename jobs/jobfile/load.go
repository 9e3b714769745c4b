package jobfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Loaded is one job file found by LoadDir.
type Loaded struct {
	Spec *Spec  // the parsed job; nil when the file itself is invalid
	Err  error  // why the job cannot run; nil when it can
	Data []byte // the file's content as read (nil when it could not be read; cut after MaxFileSize+1 bytes)
	Path string // the file's path: dir joined with the file name
}

// LoadDir reads every NAME.tm.json file in dir (not in subdirectories),
// following symbolic links, and ignores dotfiles and other names. The
// result maps job names to entries; a file that cannot be read or parsed,
// is not a regular file, or has an invalid job name, is an entry with Err,
// and never keeps the other files from loading. The valid jobs then go
// through CheckSet, and a job depending on an invalid one gets an error too.
//
// An entry with Err must not run. Its Spec is kept when the file itself is
// valid and only the set check failed, so that callers can still show it.
//
// A missing dir is an empty set, not an error, so that taskmasterd can
// start before its job directory exists. A dir that cannot be listed is
// an error.
func LoadDir(dir string) (map[string]Loaded, error) {
	return loadDir(dir, func(f dirFile) Loaded { return loadFile(f.path()) })
}

// dirFile is a file of the directory loadDir reads, for its load.
type dirFile struct {
	dirfd int    // the directory, open
	dir   string // its path
	name  string // the file's name in it
}

// path is the file's path: dir joined with its name.
func (f dirFile) path() string { return filepath.Join(f.dir, f.name) }

// loadDir is LoadDir with load reading and parsing each file. The names
// are read without a stat each (os.ReadDir would make a DirEntry of every
// one, and sort them): a reload reads the directory whole every time.
func loadDir(dir string, load func(dirFile) Loaded) (map[string]Loaded, error) {
	d, err := os.Open(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Loaded{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read job directory %s: %w", dir, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read job directory %s: %w", dir, err)
	}
	dirfd := int(d.Fd())
	jobs := make(map[string]Loaded, len(names))
	for _, file := range names {
		if name, ok := NameFromFile(file); ok {
			jobs[name] = load(dirFile{dirfd: dirfd, dir: dir, name: file})
		}
	}
	checkLoaded(jobs)
	return jobs, nil
}

// Runnable returns the specs of the entries without errors: the set to
// run, and to compare with the running set on reload.
// (An entry can have both a Spec and an Err: see LoadDir.)
func Runnable(jobs map[string]Loaded) map[string]*Spec {
	specs := make(map[string]*Spec, len(jobs))
	for name, l := range jobs {
		if l.Err == nil && l.Spec != nil {
			specs[name] = l.Spec
		}
	}
	return specs
}

// loadFile reads and parses one job file.
func loadFile(path string) Loaded {
	l := Loaded{Path: path}
	data, err := ReadFile(path)
	if err != nil {
		l.Err = err
		return l
	}
	l.Data = data
	l.Spec, l.Err = Parse(path, data)
	return l
}

// ReadFile reads a job file: a regular file (through symbolic links), of
// which it reads no more than one byte past MaxFileSize, so that Parse
// reports the size. Its error is an *Error naming path: the reason LoadDir
// records, which status shows for an INVALID job and pull answers.
func ReadFile(path string) ([]byte, error) {
	data, err := readRegular(path)
	if err == nil {
		return data, nil
	}
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) { // the path is already in File
		msg = pe.Op + ": " + pe.Err.Error()
	}
	if target, lerr := os.Readlink(path); lerr == nil && errors.Is(err, fs.ErrNotExist) {
		// "open: no such file or directory" for a name that ls shows.
		msg = fmt.Sprintf("is a dangling symbolic link (to %s): there is no file where it leads", target)
	}
	return nil, &Error{File: path, Msg: msg, Err: err}
}

// readRegular reads up to MaxFileSize+1 bytes of path, which must be a
// regular file once symbolic links are followed.
// O_NONBLOCK: opening a FIFO named like a job file would otherwise wait for
// a writer and hang every reload; it is refused below as not a regular file.
func readRegular(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		kind := "not a regular file"
		if info.IsDir() {
			kind = "a directory"
		}
		return nil, fmt.Errorf("is %s, not a job file", kind)
	}
	return io.ReadAll(io.LimitReader(f, MaxFileSize+1))
}

// checkLoaded runs the set checks over the valid entries and records their
// errors in the entries, with the file's path.
func checkLoaded(jobs map[string]Loaded) {
	specs := Runnable(jobs)
	// First, jobs that depend on a file with errors: CheckSet would call
	// that file missing, which it is not.
	names := sortedNames(specs)
	isBad := func(name string) bool {
		l, ok := jobs[name]
		return ok && l.Err != nil
	}
	propagate(specs, names, isBad,
		func(name, dep string) {
			setErr(jobs, name, depError("job %q has errors (in %s), so this job could never start", dep, jobs[dep].Path))
		})
	for name := range specs {
		if jobs[name].Err != nil {
			delete(specs, name)
		}
	}
	for name, err := range CheckSet(specs) {
		setErr(jobs, name, err)
	}
}

// setErr records a set error in an entry, adding the file's path to the
// *Error values it holds.
func setErr(jobs map[string]Loaded, name string, err error) {
	l := jobs[name]
	for _, e := range flatten(err) {
		if e.File == "" {
			e.File = l.Path
		}
	}
	l.Err = err
	jobs[name] = l
}

// flatten returns the *Error values in err, looking into joined errors.
func flatten(err error) []*Error {
	if e, ok := err.(*Error); ok {
		return []*Error{e}
	}
	var out []*Error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
	}
	return out
}

// Check validates data as the job file of name in dir exactly as LoadDir
// would with that file in place: the file itself, then its depends_on
// against the other job files of dir. It writes nothing; push uses it
// before it writes.
func Check(dir, name string, data []byte) error {
	if err := ValidName(name); err != nil {
		return err
	}
	jobs, err := LoadDir(dir)
	if err != nil {
		return err
	}
	for n, l := range jobs {
		if l.Spec != nil {
			l.Err = nil // the set check runs again below, with the new file
			jobs[n] = l
		}
	}
	path := filepath.Join(dir, name+Suffix)
	l := Loaded{Path: path, Data: data}
	if l.Spec, l.Err = Parse(path, data); l.Err != nil {
		return l.Err
	}
	jobs[name] = l
	checkLoaded(jobs)
	return jobs[name].Err
}
