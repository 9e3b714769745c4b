package fleet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// The data types of DataRequest (docs/fleet.md).
const (
	// DataJobs asks for the index of the agent's job files: DataResponse
	// string, JSON {"files":[{"name","sha256"} or {"name","error"}]}.
	DataJobs = "jobs"
	// DataJob asks for one job file, data naming it: DataResponse bytes.
	DataJob = "job"
)

// noFilesReason is the DataResponse of a manager without -fleet-jobs.
const noFilesReason = "this manager hands out no job files (no -fleet-jobs)"

// CommonDir is the directory of -fleet-jobs whose job files every agent
// gets; AGENT_ID/ beside it holds one agent's, which win over common
// ones of the same name.
const CommonDir = "common"

// JobFiles are the job files a manager hands its agents (-fleet-jobs).
type JobFiles struct {
	Dir string
}

// fileEntry is one file of the index.
type fileEntry struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256,omitempty"`
	Error  string `json:"error,omitempty"` // why the agent cannot have it
}

// Watch calls changed after each burst of changes in the directory, until
// the returned function is called.
func (f *JobFiles) Watch(changed func()) (stop func() error, err error) {
	w, err := watchTree(f.Dir, changed)
	if err != nil {
		return nil, err
	}
	return w.Close, nil
}

// files returns the paths of agent id's job files, by job name.
func (f *JobFiles) files(id string) (map[string]string, error) {
	out := make(map[string]string)
	for _, sub := range []string{CommonDir, id} {
		dir := filepath.Join(f.Dir, sub)
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			name, ok := jobfile.NameFromFile(e.Name())
			if ok && !e.IsDir() {
				out[name] = filepath.Join(dir, e.Name()) // the agent's own after common's
			}
		}
	}
	return out, nil
}

// index is the DataJobs answer for agent id.
func (f *JobFiles) index(id string) ([]byte, error) {
	paths, err := f.files(id)
	if err != nil {
		return nil, err
	}
	list := make([]fileEntry, 0, len(paths))
	for name, path := range paths {
		e := fileEntry{Name: name}
		data, err := f.read(name, path)
		if err != nil {
			e.Error = err.Error()
		} else {
			s := sha256.Sum256(data)
			e.SHA256 = hex.EncodeToString(s[:])
		}
		list = append(list, e)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return json.Marshal(struct {
		Files []fileEntry `json:"files"`
	}{list})
}

// read reads one job file, which must fit in one message.
func (f *JobFiles) read(name, path string) ([]byte, error) {
	if err := jobfile.ValidName(name); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) > chunk {
		return nil, fmt.Errorf("%s is %d bytes; the fleet link carries job files of at most %d", path, len(data), chunk)
	}
	return data, nil
}

// answer answers a DataRequest of agent id.
func (f *JobFiles) answer(id string, req *fleetpb.DataRequest) *fleetpb.DataResponse {
	resp := &fleetpb.DataResponse{RequestID: req.GetRequestID()}
	fail := func(err error) *fleetpb.DataResponse {
		resp.Data = &fleetpb.DataResponse_String_{String_: err.Error()}
		return resp
	}
	if f == nil {
		return fail(errors.New(noFilesReason))
	}
	switch req.GetType() {
	case DataJobs:
		data, err := f.index(id)
		if err != nil {
			return fail(err)
		}
		if len(data) > chunk {
			return fail(fmt.Errorf("the index of %d bytes is over the fleet link's limit: too many job files", len(data)))
		}
		resp.Ok, resp.Data = true, &fleetpb.DataResponse_String_{String_: string(data)}
	case DataJob:
		paths, err := f.files(id)
		if err != nil {
			return fail(err)
		}
		path, ok := paths[req.GetData()]
		if !ok {
			return fail(fmt.Errorf("no job file %q for agent %q", req.GetData(), id))
		}
		data, err := f.read(req.GetData(), path)
		if err != nil {
			return fail(err)
		}
		resp.Ok, resp.Data = true, &fleetpb.DataResponse_Bytes{Bytes: data}
	default:
		return fail(fmt.Errorf("unknown data type %q", req.GetType()))
	}
	return resp
}
