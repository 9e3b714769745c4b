package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// goFloorSource is the least a Go program can be: it exits at once, or,
// with an argument, sleeps until it is killed. What it costs to start, and
// the memory it holds while asleep, is what the Go runtime alone costs
// every Go program (its scheduler threads, its heap arenas, the loading of
// a static binary): the floor under taskmasterd's and taskmasterctl's own
// figures, measured in the same run on the same machine.
const goFloorSource = `package main

import (
	"os"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		time.Sleep(1 << 62)
	}
}
`

// goFloor builds the floor program (once per run) as make build builds
// taskmaster's: static, stripped, trimmed. It returns the program's path.
func (b *bench) goFloor() (string, error) {
	if b.floor != "" {
		return b.floor, nil
	}
	dir := filepath.Join(b.tmp, "gofloor")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files := map[string]string{"main.go": goFloorSource, "go.mod": "module gofloor\n\ngo 1.26\n"}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	out := filepath.Join(dir, "gofloor")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the Go floor program: %v: %s", err, strings.TrimSpace(string(msg)))
	}
	b.floor = out
	return out, nil
}
