package control_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// pull answers the job file's exact bytes, whatever they are.
func TestPull(t *testing.T) {
	r := newRig(t)
	file := "{\"cmd\": \"printf '\xff\xfe\x00'\"}\r\n\n"
	r.writeJob("web", []byte(file))
	require.Equal(t, fileReply("web", file), r.exchange(request("pull", "web", "")))
	resp := decodeReply(t, r.exchange(`{"cmd":"pull","job":"d2Vi","data":""};;`))
	require.Equal(t, []byte(file), resp.Data)
	require.Equal(t, "web", resp.Job)
	require.Empty(t, r.sup.Log(), "pull needs no supervisor")
}

func TestPullUnknownJob(t *testing.T) {
	r := newRig(t)
	require.Equal(t, failReply(fmt.Sprintf(`no such job: "ghost" (no ghost.tm.json in %s)`, r.dir)),
		r.exchange(request("pull", "ghost", "")))
	require.Empty(t, r.sup.Log())
}

// push writes the file with the exact bytes, mode 0644, leaves no temporary
// file and reloads that job.
func TestPush(t *testing.T) {
	r := newRig(t)
	file := "{\n  \"cmd\": \"sleep 60\",\n  \"numprocs\": 2\n}\n"
	require.Equal(t, success, r.exchange(request("push", "web", file)))
	got, err := os.ReadFile(r.path("web"))
	require.NoError(t, err)
	require.Equal(t, file, string(got))
	info, err := os.Stat(r.path("web"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), info.Mode())
	require.Equal(t, []string{"web.tm.json"}, dirNames(t, r.dir))
	require.Equal(t, []string{"reload web"}, r.sup.Log())
	// What was pushed is what is pulled.
	require.Equal(t, fileReply("web", file), r.exchange(request("pull", "web", "")))
}

// The original client escapes "/" in base64 as "\/".
func TestPushEscapedSlash(t *testing.T) {
	r := newRig(t)
	file := "{\"cmd\":[\"echo\",\"???\"]}\n"
	enc := b64(file)
	require.Contains(t, enc, "/")
	send := `{"cmd":"push","job":"d2Vi","data":"` + strings.ReplaceAll(enc, "/", `\/`) + `"};;`
	require.Equal(t, success, r.exchange(send))
	got, err := os.ReadFile(r.path("web"))
	require.NoError(t, err)
	require.Equal(t, file, string(got))
	require.Equal(t, []string{"reload web"}, r.sup.Log())
}

// A job that depends on a job of the directory is accepted.
func TestPushWithKnownDependency(t *testing.T) {
	r := newRig(t)
	r.writeJob("db", []byte(`{"cmd":"sleep 60"}`))
	require.Equal(t, success, r.exchange(request("push", "web", `{"cmd":"sleep 60","depends_on":["db"]}`)))
	require.Equal(t, []string{"reload web"}, r.sup.Log())
	require.ElementsMatch(t, []string{"db.tm.json", "web.tm.json"}, dirNames(t, r.dir))
}

// A failed reload after a push is the push's failure.
func TestPushReloadFails(t *testing.T) {
	r := newRig(t)
	r.sup.fail("reload", "web", errors.New("reload web: supervisor stopped"))
	require.Equal(t, failReply("reload web: supervisor stopped"), r.exchange(request("push", "web", `{"cmd":"x"}`)))
}

// An invalid job file is refused with the validation error, and changes
// nothing in the jobs directory: no file written, replaced or left behind.
func TestPushInvalid(t *testing.T) {
	const old = "{\"cmd\":\"sleep 1\"}\n"
	tests := []struct {
		name, data string
		want       func(r *rig, data string) string // the error text
	}{
		{"bad JSON", `{"cmd": "sleep 1",}`, parseErr},
		{"not an object", `["sleep 1"]`, parseErr},
		{"unknown key", `{"cmd": "sleep 1", "colour": "red"}`, parseErr},
		{"missing cmd", `{"numprocs": 2}`, parseErr},
		{"empty", " \n", parseErr},
		{"unknown dependency", `{"cmd": "sleep 1", "depends_on": ["ghost"]}`, func(r *rig, _ string) string {
			return r.path("web") + `: depends_on: unknown job "ghost" (no ghost.tm.json was found)`
		}},
		{"cycle", `{"cmd": "sleep 1", "depends_on": ["db"]}`, func(r *rig, _ string) string {
			return r.path("web") + `: depends_on: cycle web -> db -> web`
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.writeJob("web", []byte(old))
			r.writeJob("db", []byte(`{"cmd":"sleep 1","depends_on":["web"]}`))
			before := snapshot(t, r.parent)
			want := tt.want(r, tt.data)
			require.Equal(t, failReply(want), r.exchange(request("push", "web", tt.data)))
			require.Equal(t, before, snapshot(t, r.parent))
			require.Empty(t, r.sup.Log())
		})
	}
}

// parseErr is jobfile's verdict on data as the job file web.
func parseErr(r *rig, data string) string {
	_, err := jobfile.Parse(r.path("web"), []byte(data))
	require.Error(r.t, err)
	require.Contains(r.t, err.Error(), r.path("web"), "the error names the file")
	return err.Error()
}

// hostileNames are names that must never reach the file system.
var hostileNames = []string{
	"../x", "a/b", "/x", "..", ".", "all", "ALL", ".hidden", strings.Repeat("a", 65), "x y",
	"-x", `a\b`, "x\x00", "x\n", "é",
}

// Hostile names are refused by push, pull, delete and reload, and touch no
// file anywhere, in the jobs directory or beside it.
func TestHostileNames(t *testing.T) {
	require.NoError(t, jobfile.ValidName(strings.Repeat("a", 64)), "64 characters are fine")
	const bait = "{\"cmd\":\"sleep 1\"}\n"
	for _, name := range hostileNames {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			r := newRig(t)
			r.writeJob("web", []byte(bait))
			r.writeJob("x", []byte(bait))
			r.writeJob("a", []byte(bait))
			require.NoError(t, os.WriteFile(filepath.Join(r.parent, "x.tm.json"), []byte(bait), 0o644))
			require.NoError(t, os.Mkdir(filepath.Join(r.dir, "a"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(r.dir, "a", "b.tm.json"), []byte(bait), 0o644))
			before := snapshot(t, r.parent)
			want := failReply(validNameErr(t, name))
			for _, cmd := range []string{"push", "pull", "delete", "reload"} {
				require.Equal(t, want, r.exchange(request(cmd, name, bait)), cmd)
			}
			require.Equal(t, before, snapshot(t, r.parent))
			require.Empty(t, r.sup.Log())
		})
	}
}

// An empty name is a missing job: the protocol layer answers invalid and the
// handler is not reached; the handler itself refuses it too.
func TestEmptyName(t *testing.T) {
	r := newRig(t)
	before := snapshot(t, r.parent)
	for _, cmd := range []string{"push", "pull", "delete", "reload"} {
		require.Equal(t, invalidReply(cmd+" needs a job"), r.exchange(request(cmd, "", `{"cmd":"x"}`)))
		resp := r.h.ServeCtl(context.Background(), &ctlproto.Request{
			Command: ctlproto.Command(cmd), Data: []byte(`{"cmd":"x"}`)})
		require.Equal(t, ctlproto.Fail(jobfile.ValidName("")), resp, cmd)
	}
	require.Equal(t, before, snapshot(t, r.parent))
	require.Empty(t, r.sup.Log())
}

// push over an existing job replaces the file atomically: a new inode with
// the new bytes, while a reader of the old file keeps reading the old ones.
func TestPushReplacesAtomically(t *testing.T) {
	r := newRig(t)
	const old = "{\"cmd\":\"sleep 1\"}\n"
	const file = "{\"cmd\":\"sleep 2\",\n\"numprocs\":3}\n"
	r.writeJob("web", []byte(old))
	oldIno := inode(t, r.path("web"))
	reader, err := os.Open(r.path("web"))
	require.NoError(t, err)
	defer reader.Close()

	require.Equal(t, success, r.exchange(request("push", "web", file)))

	require.NotEqual(t, oldIno, inode(t, r.path("web")), "the file was rewritten in place")
	got, err := os.ReadFile(r.path("web"))
	require.NoError(t, err)
	require.Equal(t, file, string(got))
	seen, err := io.ReadAll(reader)
	require.NoError(t, err)
	require.Equal(t, old, string(seen))
	info, err := os.Stat(r.path("web"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), info.Mode())
	require.Equal(t, []string{"web.tm.json"}, dirNames(t, r.dir))
	require.Equal(t, []string{"reload web"}, r.sup.Log())
}

// delete stops the job while its file still exists, then removes the file
// and reloads the job so that the supervisor forgets it.
func TestDelete(t *testing.T) {
	for _, tt := range []struct {
		name    string
		stopErr error
	}{
		{"running", nil},
		{"already stopped", fmt.Errorf("stop %q: %w", "web", jobs.ErrRedundant)},
		{"not loaded", fmt.Errorf("%w: %q", jobs.ErrNoSuchJob, "web")},
		{"invalid file", fmt.Errorf("%w: job %q: bad", jobs.ErrNoValidFile, "web")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t)
			r.writeJob("web", []byte(`{"cmd":"sleep 1"}`))
			r.writeJob("db", []byte(`{"cmd":"sleep 1"}`))
			r.sup.on("stop", func(ctx context.Context, target string) error {
				if _, err := os.Stat(r.path(target)); err != nil {
					return fmt.Errorf("stop called after the file was removed: %w", err)
				}
				return tt.stopErr
			})
			require.Equal(t, success, r.exchange(request("delete", "web", "")))
			require.NoFileExists(t, r.path("web"))
			require.Equal(t, []string{"db.tm.json"}, dirNames(t, r.dir))
			require.Equal(t, []string{"stop web", "reload web"}, r.sup.Log())
		})
	}
}

// A job that fails to stop keeps its file and is not reloaded.
func TestDeleteStopFails(t *testing.T) {
	r := newRig(t)
	r.writeJob("web", []byte(`{"cmd":"sleep 1"}`))
	before := snapshot(t, r.parent)
	r.sup.fail("stop", "web", errors.New("stop web: supervisor stopped"))
	require.Equal(t, failReply("stop web: supervisor stopped"), r.exchange(request("delete", "web", "")))
	require.Equal(t, before, snapshot(t, r.parent))
	require.Equal(t, []string{"stop web"}, r.sup.Log())
}

func TestDeleteReloadFails(t *testing.T) {
	r := newRig(t)
	r.writeJob("web", []byte(`{"cmd":"sleep 1"}`))
	r.sup.fail("reload", "web", errors.New("reload: boom"))
	require.Equal(t, failReply("reload: boom"), r.exchange(request("delete", "web", "")))
	require.NoFileExists(t, r.path("web"))
	require.Equal(t, []string{"stop web", "reload web"}, r.sup.Log())
}

func TestDeleteUnknownJob(t *testing.T) {
	r := newRig(t)
	r.writeJob("web", []byte(`{"cmd":"sleep 1"}`))
	before := snapshot(t, r.parent)
	require.Equal(t, failReply(fmt.Sprintf(`no such job: "ghost" (no ghost.tm.json in %s)`, r.dir)),
		r.exchange(request("delete", "ghost", "")))
	require.Equal(t, before, snapshot(t, r.parent))
	require.Empty(t, r.sup.Log())
}

// A FIFO named like a job file is refused at once: opening it for reading
// would wait for a writer and hold the connection forever.
func TestPullFIFO(t *testing.T) {
	r := newRig(t)
	require.NoError(t, syscall.Mkfifo(r.path("pipe"), 0o644))
	reply := make(chan string, 1)
	go func() { reply <- r.exchange(request("pull", "pipe", "")) }()
	select {
	case got := <-reply:
		require.Equal(t, failReply(r.path("pipe")+": is not a regular file, not a job file"), got)
	case <-time.After(10 * time.Second):
		t.Fatal("pull blocked on a FIFO")
	}
}
