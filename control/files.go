package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// path returns the job file of a valid job name.
func (h *Handler) path(name string) string {
	return filepath.Join(h.dir, name+jobfile.Suffix)
}

// noSuchJob is the failure for a name with no file (nor link) in the jobs
// directory.
func (h *Handler) noSuchJob(name string) *ctlproto.Response {
	return ctlproto.Failf("no such job: %q (no %s%s in %s)", name, name, jobfile.Suffix, h.dir)
}

// pull answers with the job file's exact bytes. It follows a symbolic link
// only to a file inside the jobs directory, as a Kubernetes ConfigMap makes
// them (NAME.tm.json -> ..data/NAME.tm.json): the control port must not hand
// out other files of the machine.
func (h *Handler) pull(name string) *ctlproto.Response {
	if err := jobfile.ValidName(name); err != nil {
		return ctlproto.Fail(err)
	}
	path := h.path(name)
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return h.noSuchJob(name)
	}
	data, err := h.readInside(path)
	var jerr *jobfile.Error
	switch {
	case errors.As(err, &jerr):
		return ctlproto.Fail(err) // the words status shows for the job
	case err != nil:
		return ctlproto.Failf("pull %s: %v", name, err)
	case len(data) > jobfile.MaxFileSize:
		return ctlproto.Failf("pull %s: the file is larger than %d bytes", name, jobfile.MaxFileSize)
	}
	return ctlproto.File(name, data)
}

// readInside reads the job file at path, through a symbolic link only if it
// leads to a file inside the jobs directory. A file that cannot be read gets
// the *jobfile.Error that LoadDir records for it, about path (not where the
// link led), as status shows it.
func (h *Handler) readInside(path string) ([]byte, error) {
	real, err := h.insideDir(path)
	if err != nil {
		return nil, err
	}
	data, err := jobfile.ReadFile(real)
	var jerr *jobfile.Error
	if errors.As(err, &jerr) {
		jerr.File = path
	}
	return data, err
}

// insideDir returns the file to read for the job file at path: path itself
// when it is not a symbolic link, else the real file it leads to, which must
// be inside the jobs directory (itself resolved: the directory may be a
// link). A link that leads nowhere gets the error status shows for it.
func (h *Handler) insideDir(path string) (string, error) {
	info, err := os.Lstat(path)
	if err != nil || info.Mode()&fs.ModeSymlink == 0 {
		return path, nil // ReadFile reports what is wrong, if anything
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		if _, rerr := jobfile.ReadFile(path); rerr != nil {
			return "", rerr
		}
		return "", err
	}
	if real, err = filepath.Abs(real); err != nil {
		return "", err
	}
	dir, err := realDir(h.dir)
	if err != nil {
		return "", err
	}
	if !within(dir, real) {
		return "", fmt.Errorf("%s is a symbolic link to %s, outside the jobs directory %s: "+
			"the control port reaches only files inside it", path, linkTarget(path, real), dir)
	}
	return real, nil
}

// realDir is dir made absolute with every symbolic link resolved.
func realDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	return filepath.EvalSymlinks(abs)
}

// within reports whether path, absolute and clean, is dir or below it.
func within(dir, path string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// linkTarget names where the link at path leads, as written, followed by
// the real file when that is not the same: "../x.json (/srv/x.json)".
func linkTarget(path, real string) string {
	target, err := os.Readlink(path)
	if err != nil {
		return real
	}
	if filepath.IsAbs(target) && filepath.Clean(target) == real {
		return target
	}
	return target + " (" + real + ")"
}

// refuseLink refuses to push over a symbolic link, wherever it leads.
// Replacing the link with a file would silently undo whoever made it (a
// ConfigMap's layout, a file kept elsewhere on purpose), and writing
// through it could reach outside the jobs directory.
func (h *Handler) refuseLink(name, path string) *ctlproto.Response {
	info, err := os.Lstat(path)
	if err != nil || info.Mode()&fs.ModeSymlink == 0 {
		return nil
	}
	target, err := os.Readlink(path)
	if err != nil {
		return ctlproto.Failf("push %s: %v", name, err)
	}
	return ctlproto.Failf("push %s: %s is a symbolic link to %s: push replaces only regular files; "+
		"change the file where it comes from (for a Kubernetes ConfigMap, the ConfigMap), "+
		"or delete the job first", name, path, target)
}

// push validates a job file, writes it into the jobs directory atomically,
// and loads it. An invalid file changes nothing, and neither does a push
// over a symbolic link.
func (h *Handler) push(ctx context.Context, name string, data []byte) *ctlproto.Response {
	if err := jobfile.ValidName(name); err != nil {
		return ctlproto.Fail(err)
	}
	path := h.path(name)
	if refused := h.refuseLink(name, path); refused != nil {
		return refused
	}
	if err := jobfile.Check(h.dir, name, data); err != nil {
		return ctlproto.Fail(err)
	}
	if err := writeAtomic(path, data); err != nil {
		return ctlproto.Fail(err)
	}
	return h.reloadAndSettle(ctx, name)
}

// delete stops the job, then removes its file and forgets it. A symbolic
// link is removed itself, never the file it leads to: delete stays inside
// the jobs directory, and a dangling link can be deleted too.
func (h *Handler) delete(ctx context.Context, name string) *ctlproto.Response {
	if err := jobfile.ValidName(name); err != nil {
		return ctlproto.Fail(err)
	}
	path := h.path(name)
	if _, err := os.Lstat(path); err != nil {
		return h.noSuchJob(name)
	}
	if err := h.sup.Stop(ctx, name); err != nil && !isRedundantOrMissing(err) {
		return ctlproto.Fail(err)
	}
	if err := os.Remove(path); err != nil {
		return ctlproto.Fail(err)
	}
	if err := syncDir(h.dir); err != nil {
		return ctlproto.Fail(err)
	}
	return h.reloadAndSettle(ctx, name)
}

// writeAtomic replaces path with data so that a reader, or a crash, sees
// either the old file or the new one: a temporary file in the same
// directory, fsynced, renamed over path, and the directory fsynced.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	// A dot name: the directory watcher and the loader ignore it.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func isRedundantOrMissing(err error) bool {
	return errors.Is(err, jobs.ErrRedundant) || errors.Is(err, jobs.ErrNoSuchJob) || errors.Is(err, jobs.ErrNoValidFile)
}
