package e2e

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// make build writes static, stripped, version-stamped binaries to bin/.
func TestMakeBuildIsStaticStrippedAndStamped(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	out, err := exec.Command("make", "-C", root, "build").CombinedOutput()
	require.NoError(t, err, "make build: %s", out)
	describe, err := exec.Command("git", "-C", root, "describe", "--tags", "--always", "--dirty").Output()
	require.NoError(t, err)
	for _, name := range []string{"taskmasterd", "taskmasterctl"} {
		path := filepath.Join(root, "bin", name)
		f, err := elf.Open(path)
		require.NoError(t, err, name)
		for _, p := range f.Progs {
			require.NotEqual(t, elf.PT_INTERP, p.Type, "%s asks for a dynamic loader", name)
			require.NotEqual(t, elf.PT_DYNAMIC, p.Type, "%s is dynamically linked", name)
		}
		require.Nil(t, f.Section(".symtab"), "%s is not stripped", name)
		f.Close()
	}
	version, err := exec.Command(filepath.Join(root, "bin", "taskmasterd"), "-version").Output()
	require.NoError(t, err)
	require.Equal(t, "taskmasterd "+strings.TrimSpace(string(describe))+"\n", string(version))
}
