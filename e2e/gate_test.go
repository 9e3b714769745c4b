package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gate is a fifo that processes started by a test block on until the test
// releases them all at once, as bench/baseline/orphanstorm.c does with a
// pipe. Each process reads the fifo until EOF, which comes only when no
// writer is left: the test holds the one writer, and closing it is the
// release. So "all of them are alive at once" is a fact the test can
// establish by counting, however slowly the machine forks, instead of a
// race against a sleep.
type gate struct {
	dir  string // holds the fifo, named gateFifo
	f    *os.File
	once sync.Once
}

// gateFifo is the name of the fifo in gate.dir (bind-mount the directory to
// use the gate in a container).
const gateFifo = "gate"

// newGate makes a fifo and opens it. Read-write, so that the open does not
// wait for a reader, and the readers' opens do not wait for a writer (on
// Linux an open for reading alone blocks until the fifo has a writer). The
// file is close-on-exec (os.OpenFile always is), so no process the test
// starts holds a writer that would keep the gate shut. The cleanup releases
// whatever a failed test left blocked.
func newGate(t *testing.T) *gate {
	t.Helper()
	g := &gate{dir: t.TempDir()}
	require.NoError(t, syscall.Mkfifo(g.path(), 0o666))
	f, err := os.OpenFile(g.path(), os.O_RDWR, 0)
	require.NoError(t, err)
	g.f = f
	t.Cleanup(g.release)
	return g
}

// path is the fifo's path on the host.
func (g *gate) path() string { return filepath.Join(g.dir, gateFifo) }

// release opens the gate for good: every process reading it reads EOF and
// goes on, and so does one that opens it only now. Closing the test's end
// alone would not do for that one: its open would wait for a writer that
// never comes. So an empty regular file takes the fifo's name first (an
// open after that finds it, and reads EOF), then the test's end closes
// (an open before that has found the fifo with a writer, and returns).
func (g *gate) release() {
	g.once.Do(func() {
		open := filepath.Join(g.dir, gateFifo+".open")
		if err := os.WriteFile(open, nil, 0o644); err == nil {
			_ = os.Rename(open, g.path())
		}
		g.f.Close()
	})
}

// spawnBlocked is a shell script that opens the fifo at fifo as fd 3,
// starts n copies of child in the background, each of which must read fd 3
// to its end ("read x <&3" in a subshell, "cat <&3" for a program), and
// exits: its children, still blocked on the gate, become orphans.
func spawnBlocked(fifo string, n int, child string) []string {
	script := fmt.Sprintf(`exec 3<'%s'; i=0; while [ $i -lt %d ]; do %s & i=$((i+1)); done; exit 0`, fifo, n, child)
	return []string{"/bin/sh", "-c", script}
}

// adoptedBy counts the live processes named comm whose parent is pid:
// orphans it adopted, once their own parent has exited. Zombies are left
// out: the job's shell, ended but not reaped yet, has the same name.
func adoptedBy(ps []proc, pid int, comm string) int {
	n := 0
	for _, p := range ps {
		if p.ppid == pid && p.comm == comm && p.state != "Z" {
			n++
		}
	}
	return n
}

// awaitAdopted waits until n live processes named comm are children of
// taskmasterd.
func (d *daemon) awaitAdopted(comm string, n int, timeout time.Duration) {
	d.t.Helper()
	var seen struct{ Adopted, Below int }
	eventually(d.t, timeout, func() bool {
		ps := descendants(d.pid)
		seen.Adopted, seen.Below = adoptedBy(ps, d.pid, comm), len(ps)
		return seen.Adopted == n
	}, "want %d live %s adopted by taskmasterd; have %+v", n, comm, &seen)
}

// awaitNoneBelow waits until no process is left below taskmasterd, not even
// a zombie.
func (d *daemon) awaitNoneBelow(timeout time.Duration) {
	d.t.Helper()
	var left procList
	eventually(d.t, timeout, func() bool {
		left = descendants(d.pid)
		return len(left) == 0
	}, "processes left below taskmasterd: %v", &left)
}

// procList prints as its length and its first few processes, for failure
// messages. Pass a pointer to a variable the condition sets: eventually's
// arguments are evaluated before it waits, the String method only when the
// message is printed.
type procList []proc

func (l *procList) String() string {
	const shown = 10
	s := fmt.Sprintf("%d %+v", len(*l), (*l)[:min(len(*l), shown)])
	if len(*l) > shown {
		s += " ..."
	}
	return s
}
