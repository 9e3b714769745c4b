package pid1

import "github.com/taskmaster/taskmaster/internal/procfs"

// descendants returns the live (not zombie) processes below root.
func descendants(proc string, root int) []int {
	procs := procfs.All(proc)
	var out []int
	for pid, st := range procs {
		if pid == root || st.Zombie() {
			continue
		}
		for p, hops := st.Ppid, 0; p > 0 && hops < len(procs); hops++ {
			if p == root {
				out = append(out, pid)
				break
			}
			p = procs[p].Ppid
		}
	}
	return out
}
