package control

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// path returns the job file of a valid job name.
func (h *Handler) path(name string) string {
	return filepath.Join(h.dir, name+jobfile.Suffix)
}

// pull answers with the job file's exact bytes.
func (h *Handler) pull(name string) *ctlproto.Response {
	if err := jobfile.ValidName(name); err != nil {
		return ctlproto.Fail(err)
	}
	data, err := jobfile.ReadFile(h.path(name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ctlproto.Failf("no such job: %q (no %s%s in %s)", name, name, jobfile.Suffix, h.dir)
	case err != nil:
		return ctlproto.Failf("pull %s: %v", name, err)
	case len(data) > jobfile.MaxFileSize:
		return ctlproto.Failf("pull %s: the file is larger than %d bytes", name, jobfile.MaxFileSize)
	}
	return ctlproto.File(name, data)
}

// push validates a job file, writes it into the jobs directory atomically,
// and loads it. An invalid file changes nothing.
func (h *Handler) push(ctx context.Context, name string, data []byte) *ctlproto.Response {
	if err := jobfile.ValidName(name); err != nil {
		return ctlproto.Fail(err)
	}
	if err := jobfile.Check(h.dir, name, data); err != nil {
		return ctlproto.Fail(err)
	}
	if err := writeAtomic(h.path(name), data); err != nil {
		return ctlproto.Fail(err)
	}
	return h.reloadAndSettle(ctx, name)
}

// delete stops the job, then removes its file and forgets it.
func (h *Handler) delete(ctx context.Context, name string) *ctlproto.Response {
	if err := jobfile.ValidName(name); err != nil {
		return ctlproto.Fail(err)
	}
	path := h.path(name)
	if _, err := os.Stat(path); err != nil {
		return ctlproto.Failf("no such job: %q (no %s%s in %s)", name, name, jobfile.Suffix, h.dir)
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
