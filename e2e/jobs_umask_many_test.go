package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// 200 jobs with different umasks, all loaded and started at once, each
// creating a file: every file has its own job's mode. A per-job umask set
// by changing taskmasterd's own (shared by all its threads) around each
// fork would give some files another job's mask; so would a job without a
// umask started while taskmasterd's was changed, which every tenth job is.
func TestJobsManyUmasksAtOnce(t *testing.T) {
	const n = 200
	forEachMode(t, func(t *testing.T, m mode) {
		out := t.TempDir()
		inherited := umaskOf(t, os.Getpid())
		want := make([]int, n)
		jobs := map[string]string{}
		for i := range n {
			name := fmt.Sprintf("u%03d", i)
			cmd := shArgv(": > " + filepath.Join(out, name))
			// 37 is prime to 512: 200 different masks over 0 to 0777,
			// written in both of the forms docs/jobs.md allows.
			mask := i * 37 % 0o1000
			switch {
			case i%10 == 9:
				want[i] = inherited
				jobs[name] = oneShot(cmd)
			case i%2 == 0:
				want[i] = mask
				jobs[name] = oneShot(cmd, "umask", fmt.Sprintf("%03o", mask))
			default:
				want[i] = mask
				jobs[name] = oneShot(cmd, "umask", rawJSON(fmt.Sprintf("%o", mask)))
			}
		}
		d := startJobsDaemon(t, daemonOpts{mode: m, jobs: jobs})
		eventually(t, 60*time.Second, func() bool {
			entries, _ := os.ReadDir(out)
			return len(entries) == n
		}, "not every job created its file")
		for i := range n {
			name := fmt.Sprintf("u%03d", i)
			require.Equal(t, os.FileMode(0o666&^want[i]), permOf(t, filepath.Join(out, name)),
				"%s: umask %04o", name, want[i])
		}
		eventually(t, 30*time.Second, func() bool {
			all := d.status()
			for i := range n {
				st := all[fmt.Sprintf("u%03d", i)]
				if len(st.Processes) != 1 || st.Processes[0].State != "EXITED" {
					return false
				}
			}
			return true
		}, "not every job EXITED")
		for name, st := range d.status() {
			require.Equal(t, 0, *st.Processes[0].ExitCode, name)
		}
		require.Equal(t, inherited, umaskOf(t, d.pid), "taskmasterd's own umask changed")
	})
}
