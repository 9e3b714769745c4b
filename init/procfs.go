package pid1

import (
	"bytes"
	"os"
	"strconv"
)

// procInfo is what the shutdown needs to know of a process.
type procInfo struct {
	ppid   int
	zombie bool
}

// readProcs reads the parent and state of every process in /proc.
func readProcs(proc string) map[int]procInfo {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil
	}
	out := make(map[int]procInfo, len(entries))
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(proc + "/" + e.Name() + "/stat")
		if err != nil {
			continue // it exited meanwhile
		}
		if info, ok := parseStat(stat); ok {
			out[pid] = info
		}
	}
	return out
}

// parseStat reads the state and ppid from /proc/PID/stat:
// "pid (comm) state ppid ...", where comm may hold spaces and parentheses.
func parseStat(stat []byte) (procInfo, bool) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return procInfo{}, false
	}
	fields := bytes.Fields(stat[end+1:])
	if len(fields) < 2 {
		return procInfo{}, false
	}
	ppid, err := strconv.Atoi(string(fields[1]))
	if err != nil {
		return procInfo{}, false
	}
	return procInfo{ppid: ppid, zombie: string(fields[0]) == "Z"}, true
}

// descendants returns the live (not zombie) processes below root.
func descendants(proc string, root int) []int {
	procs := readProcs(proc)
	var out []int
	for pid, info := range procs {
		if pid == root || info.zombie {
			continue
		}
		for p, hops := info.ppid, 0; p > 0 && hops < len(procs); hops++ {
			if p == root {
				out = append(out, pid)
				break
			}
			p = procs[p].ppid
		}
	}
	return out
}
