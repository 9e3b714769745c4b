package pgstate

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/taskmaster/taskmaster/internal/procfs"
)

// groupMembers returns the live (not zombie) processes of group pgid.
func groupMembers(proc string, pgid int) []int {
	entries, _ := os.ReadDir(proc)
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := procfs.ReadStat(proc, pid)
		if err == nil && st.Pgid == pgid && !st.Zombie() {
			out = append(out, pid)
		}
	}
	return out
}

// identity is what tells this boot and PID namespace from others: pids and
// start times only mean something within both.
type identity struct {
	boot  string // /proc/sys/kernel/random/boot_id
	pidNS string // readlink /proc/self/ns/pid, like "pid:[4026531836]"
}

// readIdentity returns the identity of this process.
func readIdentity(proc string) (identity, error) {
	boot, err := os.ReadFile(filepath.Join(proc, "sys", "kernel", "random", "boot_id"))
	if err != nil {
		return identity{}, fmt.Errorf("boot id: %w", err)
	}
	ns, err := os.Readlink(filepath.Join(proc, "self", "ns", "pid"))
	if err != nil {
		return identity{}, fmt.Errorf("pid namespace: %w", err)
	}
	return identity{boot: strings.TrimSpace(string(boot)), pidNS: ns}, nil
}
