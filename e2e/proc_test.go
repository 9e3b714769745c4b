package e2e

import (
	"bytes"
	"net"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// proc is one process as /proc shows it to the test.
type proc struct {
	pid, ppid, pgid int
	state           string // R, S, Z, ...
	comm            string
}

// procs reads every process of the machine from /proc.
func procs() map[int]proc {
	entries, _ := os.ReadDir("/proc")
	out := make(map[int]proc, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		open, end := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || end < 0 {
			continue
		}
		f := bytes.Fields(stat[end+1:])
		if len(f) < 3 {
			continue
		}
		ppid, _ := strconv.Atoi(string(f[1]))
		pgid, _ := strconv.Atoi(string(f[2]))
		out[pid] = proc{pid: pid, ppid: ppid, pgid: pgid, state: string(f[0]), comm: string(stat[open+1 : end])}
	}
	return out
}

// descendants returns every process below root, zombies included.
func descendants(root int) []proc {
	all := procs()
	var out []proc
	for pid, p := range all {
		if pid == root {
			continue
		}
		for q, hops := p.ppid, 0; q > 0 && hops < 64; hops++ {
			if q == root {
				out = append(out, p)
				break
			}
			q = all[q].ppid
		}
	}
	return out
}

func zombies(ps []proc) []proc {
	var out []proc
	for _, p := range ps {
		if p.state == "Z" {
			out = append(out, p)
		}
	}
	return out
}

func countComm(ps []proc, comm string) int {
	n := 0
	for _, p := range ps {
		if p.comm == comm {
			n++
		}
	}
	return n
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	end := bytes.LastIndexByte(stat, ')')
	return end >= 0 && len(stat) > end+2 && stat[end+2] != 'Z'
}

// killTree SIGKILLs whatever a failed test left below root.
func killTree(root int) {
	for _, p := range descendants(root) {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// freePort returns a TCP port on 127.0.0.1 that is free now.
// freeAddrs returns n loopback addresses with ports nobody listens on now,
// all different: they are found while all are held.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer l.Close()
		addrs = append(addrs, l.Addr().String())
	}
	return addrs
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// nsPid returns the pid of a process in its innermost PID namespace, from
// the NSpid line of its status.
func nsPid(pid int) (int, bool) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("NSpid:")); ok {
			f := bytes.Fields(rest)
			if len(f) == 0 {
				return 0, false
			}
			n, err := strconv.Atoi(string(f[len(f)-1]))
			return n, err == nil
		}
	}
	return 0, false
}

// hostPids turns pids seen inside the daemon's PID namespace into the pids
// the test sees, looking among the daemon's descendants (which must be
// alive). Outside a namespace they are the same.
func (d *daemon) hostPids(inner []int) []int {
	byInner := map[int]int{}
	for _, p := range descendants(d.pid) {
		if n, ok := nsPid(p.pid); ok {
			byInner[n] = p.pid
		}
	}
	out := make([]int, len(inner))
	for i, n := range inner {
		host, ok := byInner[n]
		if !ok {
			d.t.Fatalf("no process below taskmasterd has pid %d in its namespace", n)
		}
		out[i] = host
	}
	return out
}
