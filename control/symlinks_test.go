package control_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/control"
	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// Symbolic links in the jobs directory (docs/jobs.md, The job directory):
// pull follows one only to a file inside the directory, push never replaces
// one, delete removes the link and never what it leads to.

const secret = "root:x:0:0:root:/root:/bin/sh\n"

// link makes the job file of name a symbolic link to target.
func (r *rig) link(name, target string) {
	r.t.Helper()
	require.NoError(r.t, os.Symlink(target, r.path(name)))
}

// writeSecret puts a file beside the jobs directory, where the control port
// must not reach, and returns its path.
func (r *rig) writeSecret() string {
	r.t.Helper()
	path := filepath.Join(r.parent, "secret")
	require.NoError(r.t, os.WriteFile(path, []byte(secret), 0o600))
	return path
}

// configMap lays the jobs directory out as Kubernetes mounts a ConfigMap:
// the files in a timestamped directory, ..data linking to it, and each
// NAME.tm.json linking to ..data/NAME.tm.json.
func (r *rig) configMap(files map[string]string) {
	r.t.Helper()
	stamp := filepath.Join(r.dir, "..2026_12_04_10_00_00.123")
	require.NoError(r.t, os.Mkdir(stamp, 0o755))
	require.NoError(r.t, os.Symlink(filepath.Base(stamp), filepath.Join(r.dir, "..data")))
	for name, body := range files {
		require.NoError(r.t, os.WriteFile(filepath.Join(stamp, name+jobfile.Suffix), []byte(body), 0o644))
		r.link(name, filepath.Join("..data", name+jobfile.Suffix))
	}
}

// A link that leads out of the jobs directory is not served, whether it is
// absolute, relative, or goes through another link; the error names the
// job, the link and where it leads.
func TestPullSymlinkOutside(t *testing.T) {
	r := newRig(t)
	target := r.writeSecret()
	r.link("abs", target)
	r.link("rel", "../secret")
	r.link("hop", "abs.tm.json")
	require.NoError(t, os.Symlink(r.parent, filepath.Join(r.dir, "up")))
	r.link("viadir", "up/secret")
	want := map[string]string{
		"abs":    target,
		"rel":    "../secret (" + target + ")",
		"hop":    "abs.tm.json (" + target + ")",
		"viadir": "up/secret (" + target + ")",
	}
	for name, to := range want {
		got := r.exchange(request("pull", name, ""))
		require.Equal(t, failReply("pull "+name+": "+r.path(name)+" is a symbolic link to "+to+
			", outside the jobs directory "+r.dir+": the control port reaches only files inside it"), got, name)
		require.NotContains(t, decodeReply(t, got).Error, "root:x")
	}
	require.Empty(t, r.sup.Log())
}

// A ConfigMap's layout is links inside the jobs directory: pull serves the
// file, and LoadDir loads it.
func TestPullConfigMap(t *testing.T) {
	r := newRig(t)
	const web = "{\"cmd\": \"sleep 60\"}\n"
	r.configMap(map[string]string{"web": web})
	r.link("plain", "..2026_12_04_10_00_00.123/web.tm.json") // a link to a link's target, in the directory
	require.Equal(t, fileReply("web", web), r.exchange(request("pull", "web", "")))
	require.Equal(t, fileReply("plain", web), r.exchange(request("pull", "plain", "")))

	loaded, err := jobfile.LoadDir(r.dir)
	require.NoError(t, err)
	require.Len(t, loaded, 2)
	require.NoError(t, loaded["web"].Err)
	require.Equal(t, []string{"sleep", "60"}, loaded["web"].Spec.Cmd)
}

// The jobs directory may itself be reached through a link (a volume mounted
// elsewhere); a link inside it that names its real path is inside it.
func TestPullJobsDirIsALink(t *testing.T) {
	r := newRig(t)
	const web = "{\"cmd\": \"sleep 60\"}\n"
	r.writeJob("real", []byte(web))
	r.link("web", r.path("real")) // absolute, through the real directory
	linked := filepath.Join(r.parent, "linked")
	require.NoError(t, os.Symlink(r.dir, linked))
	h := control.New(newFakeSup(), linked)
	for _, name := range []string{"real", "web"} {
		resp := h.ServeCtl(context.Background(), &ctlproto.Request{Command: ctlproto.CmdPull, Job: name})
		require.Equal(t, ctlproto.File(name, []byte(web)), resp, name)
	}
	r.link("evil", r.writeSecret())
	resp := h.ServeCtl(context.Background(), &ctlproto.Request{Command: ctlproto.CmdPull, Job: "evil"})
	require.Equal(t, ctlproto.KindFail, resp.Kind)
	require.Contains(t, resp.Error, "outside the jobs directory "+r.dir)
}

// pull of a link that leads nowhere says what status says of the job: the
// reason LoadDir records for it.
func TestPullDanglingSymlink(t *testing.T) {
	r := newRig(t)
	r.link("gone", filepath.Join(r.parent, "nowhere.tm.json"))
	r.link("loop", "loop.tm.json")
	loaded, err := jobfile.LoadDir(r.dir)
	require.NoError(t, err)
	want := map[string]string{
		"gone": r.path("gone") + ": is a dangling symbolic link (to " + filepath.Join(r.parent, "nowhere.tm.json") +
			"): there is no file where it leads",
		"loop": r.path("loop") + ": open: too many levels of symbolic links",
	}
	for name, msg := range want {
		require.EqualError(t, loaded[name].Err, msg, "status")
		require.Equal(t, failReply(msg), r.exchange(request("pull", name, "")), "pull")
	}
}

// A FIFO behind a link inside the directory is refused at once, in the
// words status uses for the link.
func TestPullFIFOBehindALink(t *testing.T) {
	r := newRig(t)
	require.NoError(t, syscall.Mkfifo(filepath.Join(r.dir, ".pipe"), 0o644))
	r.link("pipe", ".pipe")
	reply := make(chan string, 1)
	go func() { reply <- r.exchange(request("pull", "pipe", "")) }()
	select {
	case got := <-reply:
		require.Equal(t, failReply(r.path("pipe")+": is not a regular file, not a job file"), got)
	case <-time.After(10 * time.Second):
		t.Fatal("pull blocked on a FIFO")
	}
}

// push never replaces a link, wherever it leads, and touches nothing:
// not the link, not its target, not the directory.
func TestPushOverSymlink(t *testing.T) {
	r := newRig(t)
	target := r.writeSecret()
	r.configMap(map[string]string{"web": "{\"cmd\": \"sleep 60\"}\n"})
	r.link("evil", target)
	r.link("gone", "nowhere.tm.json")
	want := map[string]string{
		"web":  filepath.Join("..data", "web.tm.json"),
		"evil": target,
		"gone": "nowhere.tm.json",
	}
	before := snapshot(t, r.parent)
	for name, to := range want {
		require.Equal(t, failReply("push "+name+": "+r.path(name)+" is a symbolic link to "+to+
			": push replaces only regular files; change the file where it comes from "+
			"(for a Kubernetes ConfigMap, the ConfigMap), or delete the job first"),
			r.exchange(request("push", name, `{"cmd":"sleep 1"}`)), name)
	}
	require.Equal(t, before, snapshot(t, r.parent))
	require.Empty(t, r.sup.Log())
}

// delete removes the link itself, never the file it leads to; a dangling
// link is a job that can be deleted too.
func TestDeleteSymlink(t *testing.T) {
	r := newRig(t)
	target := r.writeSecret()
	r.link("evil", target)
	r.link("gone", "nowhere.tm.json")
	for _, name := range []string{"evil", "gone"} {
		require.Equal(t, success, r.exchange(request("delete", name, "")), name)
		_, err := os.Lstat(r.path(name))
		require.ErrorIs(t, err, os.ErrNotExist, name)
	}
	data, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, secret, string(data))
	require.Equal(t, []string{"stop evil", "reload evil", "stop gone", "reload gone"}, r.sup.Log())
}
