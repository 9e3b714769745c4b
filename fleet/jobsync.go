package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// ManifestFile, in the agent's jobs directory, lists the job files that
// came from the manager, with their SHA-256: those are the files the
// agent replaces and deletes as the manager's change; any other job file
// is the agent's own and is never touched. A dot file: the loader and
// the watcher ignore it.
const ManifestFile = ".fleet-jobs.json"

// dataTimeout bounds the wait for a DataResponse.
const dataTimeout = 30 * time.Second

// manifest is the content of ManifestFile.
type manifest struct {
	Files map[string]string `json:"files"` // job name -> SHA-256 (hex)
}

// errNoFiles is a manager without -fleet-jobs.
var errNoFiles = errors.New("the manager hands out no job files")

// dataResponse hands a DataResponse to its request.
func (w *worker) dataResponse(r *fleetpb.DataResponse) {
	w.dmu.Lock()
	ch := w.dwait[r.GetRequestID()]
	delete(w.dwait, r.GetRequestID())
	w.dmu.Unlock()
	if ch != nil {
		ch <- r
	}
}

// jobsChanged asks for a fetch of the job files; fetches coalesce.
func (w *worker) jobsChanged() {
	select {
	case w.resync <- struct{}{}:
	default:
	}
}

// request sends a DataRequest and waits for its response.
func (w *worker) request(typ, data string) (*fleetpb.DataResponse, error) {
	ch := make(chan *fleetpb.DataResponse, 1)
	w.dmu.Lock()
	w.dnext++
	id := w.dnext
	w.dwait[id] = ch
	w.dmu.Unlock()
	defer func() {
		w.dmu.Lock()
		delete(w.dwait, id)
		w.dmu.Unlock()
	}()
	if err := w.c.send(&fleetpb.DataRequest{RequestID: id, Type: typ, Data: data}); err != nil {
		return nil, err
	}
	t := time.NewTimer(dataTimeout)
	defer t.Stop()
	select {
	case r := <-ch:
		if !r.GetOk() {
			return nil, errors.New(r.GetString_())
		}
		return r, nil
	case <-w.ctx.Done():
		return nil, w.ctx.Err()
	case <-t.C:
		return nil, fmt.Errorf("no answer to DataRequest %s %q within %v", typ, data, dataTimeout)
	}
}

// syncJobs fetches the job files once the agent has joined, and again at
// each JobsChanged.
func (w *worker) syncJobs() {
	defer w.wg.Done()
	if w.a.JobsDir == "" {
		return
	}
	w.jobsChanged()
	for {
		select {
		case <-w.resync:
			if err := w.syncOnce(); err != nil && w.ctx.Err() == nil {
				if errors.Is(err, errNoFiles) {
					w.a.logger().Debug("fleet: no job files from the manager", "err", err)
				} else {
					w.a.logger().Error("fleet: job files from the manager not fetched", "err", err)
				}
			}
		case <-w.ctx.Done():
			return
		}
	}
}

// syncOnce makes the agent's job files from the manager what the
// manager's index says: new and changed ones pushed, removed ones deleted,
// through the control handler, as taskmasterctl push and delete would.
func (w *worker) syncOnce() error {
	resp, err := w.request(DataJobs, "")
	if err != nil {
		if err.Error() == noFilesReason {
			return fmt.Errorf("%w: %v", errNoFiles, err)
		}
		return err
	}
	var index struct {
		Files []fileEntry `json:"files"`
	}
	if err := json.Unmarshal([]byte(resp.GetString_()), &index); err != nil {
		return fmt.Errorf("the manager's index of job files: %w", err)
	}
	man := w.readManifest()
	listed := make(map[string]bool, len(index.Files))
	for _, e := range index.Files {
		listed[e.Name] = true
		if err := w.syncFile(man, e); err != nil {
			w.a.logger().Error("fleet: job file from the manager not applied", "job", e.Name, "err", err)
		}
	}
	for name := range man.Files {
		if !listed[name] {
			w.remove(man, name)
		}
	}
	return w.writeManifest(man)
}

// syncFile applies one entry of the index.
func (w *worker) syncFile(man *manifest, e fileEntry) error {
	if e.Error != "" {
		return errors.New(e.Error)
	}
	if err := jobfile.ValidName(e.Name); err != nil {
		return err
	}
	local, err := os.ReadFile(filepath.Join(w.a.JobsDir, e.Name+jobfile.Suffix))
	have := ""
	if err == nil {
		s := sha256.Sum256(local)
		have = hex.EncodeToString(s[:])
	}
	_, managed := man.Files[e.Name]
	switch {
	case have == e.SHA256:
		man.Files[e.Name] = e.SHA256
		return nil
	case err == nil && !managed:
		return fmt.Errorf("the agent has a job file %s of its own: it is kept, the manager's is not used", e.Name+jobfile.Suffix)
	}
	resp, err := w.request(DataJob, e.Name)
	if err != nil {
		return err
	}
	out := w.a.Ops.ServeCtl(w.ctx, &ctlproto.Request{Command: ctlproto.CmdPush, Job: e.Name, Data: resp.GetBytes()})
	if out.Kind != ctlproto.KindSuccess && out.Kind != ctlproto.KindRedundant {
		return errors.New(out.Error)
	}
	s := sha256.Sum256(resp.GetBytes())
	man.Files[e.Name] = hex.EncodeToString(s[:])
	change := "added"
	if managed {
		change = "changed"
	}
	w.a.logger().Info("fleet: job file from the manager", "job", e.Name, "change", change)
	return nil
}

// remove deletes a job file the manager no longer hands out.
func (w *worker) remove(man *manifest, name string) {
	out := w.a.Ops.ServeCtl(w.ctx, &ctlproto.Request{Command: ctlproto.CmdDelete, Job: name})
	if out.Kind == ctlproto.KindFail {
		if _, err := os.Lstat(filepath.Join(w.a.JobsDir, name+jobfile.Suffix)); err == nil {
			w.a.logger().Error("fleet: job file the manager removed not deleted", "job", name, "err", out.Error)
			return
		}
	}
	delete(man.Files, name)
	w.a.logger().Info("fleet: job file from the manager", "job", name, "change", "removed")
}

func (w *worker) readManifest() *manifest {
	man := &manifest{Files: map[string]string{}}
	data, err := os.ReadFile(filepath.Join(w.a.JobsDir, ManifestFile))
	if err == nil {
		_ = json.Unmarshal(data, man)
	}
	if man.Files == nil {
		man.Files = map[string]string{}
	}
	return man
}

func (w *worker) writeManifest(man *manifest) error {
	data, err := json.Marshal(man)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(w.a.JobsDir, ManifestFile), data, 0o644)
}
