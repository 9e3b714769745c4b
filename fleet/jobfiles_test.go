package fleet

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, body := range files {
		path := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		tmp := filepath.Join(filepath.Dir(path), ".tmp")
		require.NoError(t, os.WriteFile(tmp, []byte(body), 0o644))
		require.NoError(t, os.Rename(tmp, path))
	}
}

func TestJobFilesFromTheManager(t *testing.T) {
	m := startManager(t, rule("web-*", "s"))
	root := t.TempDir()
	const (
		common   = `{"cmd":"/bin/common","autostart":true,"starttime":0}`
		mine     = `{"cmd":"/bin/mine","autostart":true,"starttime":0}`
		override = `{"cmd":"/bin/override","autostart":true,"starttime":0}`
	)
	writeTree(t, root, map[string]string{
		"common/shared.tm.json":  common,
		"common/both.tm.json":    common,
		"common/own.tm.json":     common,
		"web-1/mine.tm.json":     mine,
		"web-1/both.tm.json":     override,
		"web-2/other.tm.json":    mine,
		"common/.hidden.tm.json": mine,
		"common/notes.txt":       "not a job file",
	})
	m.Files = &JobFiles{Dir: root}
	stop, err := m.Files.Watch(m.JobFilesChanged)
	require.NoError(t, err)
	defer stop()

	w := newWorld(t, map[string]string{"own": `{"cmd":"/bin/own","autostart":false}`})
	a := m.newAgent("web-1", "s", w)
	a.JobsDir = w.dir
	ta := runAgent(t, a)
	r := &Router{Local: newWorld(t, nil).ops, Manager: m.Manager}
	for _, job := range []string{"web-1/shared", "web-1/mine", "web-1/both"} {
		m.until(t, job+" running", func() bool { return m.jobState(t, r, job) == "RUNNING" })
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(w.dir, name+".tm.json"))
		if err != nil {
			return ""
		}
		return string(b)
	}
	assert.Equal(t, override, read("both"), "the agent's own directory wins over common/")
	assert.Equal(t, `{"cmd":"/bin/own","autostart":false}`, read("own"), "a job file of the agent's own is kept")
	assert.Empty(t, read("other"), "another agent's")
	logged(t, ta.log, "fleet: job file from the manager not applied", "job=own", "of its own")

	// The manifest is written once the files are applied.
	var man manifest
	require.Eventually(t, func() bool {
		data, err := os.ReadFile(filepath.Join(w.dir, ManifestFile))
		return err == nil && json.Unmarshal(data, &man) == nil && len(man.Files) == 3
	}, wait, time.Millisecond)
	assert.ElementsMatch(t, []string{"shared", "mine", "both"}, keys(man.Files))

	// The manager's directory changes: connected agents fetch again.
	writeTree(t, root, map[string]string{"web-1/mine.tm.json": `{"cmd":"/bin/mine","autostart":false}`})
	require.NoError(t, os.Remove(filepath.Join(root, "common", "shared.tm.json")))
	writeTree(t, root, map[string]string{"web-1/late.tm.json": mine})
	m.until(t, "the change applied", func() bool {
		return m.jobState(t, r, "web-1/late") == "RUNNING" && m.jobState(t, r, "web-1/shared") == "" &&
			read("mine") == `{"cmd":"/bin/mine","autostart":false}`
	})
	_, err = os.Stat(filepath.Join(w.dir, "shared.tm.json"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a file the manager removed is deleted")

	// A new agent directory is watched too.
	writeTree(t, root, map[string]string{"web-3/x.tm.json": mine})
	writeTree(t, root, map[string]string{"web-3/y.tm.json": mine})
	w3 := newWorld(t, nil)
	a3 := m.newAgent("web-3", "s", w3)
	a3.JobsDir = w3.dir
	runAgent(t, a3)
	m.until(t, "web-3's files", func() bool { return m.jobState(t, r, "web-3/y") == "RUNNING" })
	writeTree(t, root, map[string]string{"web-3/z.tm.json": mine})
	m.until(t, "web-3's new file", func() bool { return m.jobState(t, r, "web-3/z") == "RUNNING" })
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestJobFilesAnswers(t *testing.T) {
	root := t.TempDir()
	big := make([]byte, chunk+1)
	writeTree(t, root, map[string]string{"common/a.tm.json": "{}", "common/big.tm.json": string(big)})
	f := &JobFiles{Dir: root}
	idx, err := f.index("x")
	require.NoError(t, err)
	assert.Contains(t, string(idx), `{"name":"a","sha256":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}`)
	assert.Contains(t, string(idx), `"name":"big","error":`)
	assert.Contains(t, f.answer("x", &fleetReq{Type: DataJob, Data: "nope"}).GetString_(), `no job file "nope" for agent "x"`)
	assert.Equal(t, "{}", string(f.answer("x", &fleetReq{Type: DataJob, Data: "a"}).GetBytes()))
	assert.Contains(t, f.answer("x", &fleetReq{Type: "what"}).GetString_(), `unknown data type "what"`)
	var none *JobFiles
	assert.Equal(t, noFilesReason, none.answer("x", &fleetReq{Type: DataJobs}).GetString_())
}
