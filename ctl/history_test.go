package ctl

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHistory(t *testing.T) {
	home := t.TempDir()
	h := loadHistory(home)
	require.Equal(t, 0, h.Len())
	for _, line := range []string{"status", "  ", "start web", "start web", "exit", "stop web "} {
		h.Add(line)
	}
	require.Equal(t, 3, h.Len(), "blank lines, repeats and exit are not kept")
	require.Equal(t, "stop web", h.At(0))
	require.Equal(t, "status", h.At(2))

	path := filepath.Join(home, historyFile)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "status\nstart web\nstop web\n", string(data))
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	again := loadHistory(home)
	require.Equal(t, "stop web", again.At(0))
}

func TestHistoryKeepsTheLast500(t *testing.T) {
	home := t.TempDir()
	var lines []string
	for i := range 600 {
		lines = append(lines, fmt.Sprintf("status job%d", i))
	}
	require.NoError(t, os.WriteFile(filepath.Join(home, historyFile), []byte(strings.Join(lines, "\n")), 0o600))
	h := loadHistory(home)
	require.Equal(t, historyMax, h.Len())
	require.Equal(t, "status job599", h.At(0))
	require.Equal(t, "status job100", h.At(historyMax-1))
	h.Add("list")
	require.Equal(t, historyMax, h.Len())
	require.Equal(t, "status job101", h.At(historyMax-1))
}

func TestHistoryIgnoresFileErrors(t *testing.T) {
	h := loadHistory(filepath.Join(t.TempDir(), "no", "such", "home"))
	h.Add("status") // cannot be saved: no error, no panic
	require.Equal(t, "status", h.At(0))
	mem := loadHistory("")
	mem.Add("list")
	require.Equal(t, 1, mem.Len())
}
