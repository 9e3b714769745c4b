package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// imageTag is the tag of the image the footprint section builds to
// measure; it is removed afterwards.
const imageTag = "taskmaster-bench-size:local"

// imageSize builds the project's image (the repository's Dockerfile) from
// the binaries measured and returns its size as Docker reports it, the
// size a `docker pull` stores. The build context is a directory of its
// own holding the Dockerfile and the two programs, so that the image
// holds exactly what this run measures, wherever -taskmasterd points.
func (b *bench) imageSize(ctx context.Context) (int64, error) {
	if _, err := exec.LookPath("docker"); err != nil {
		return 0, fmt.Errorf("no docker: %w", err)
	}
	dir, err := os.MkdirTemp(b.tmp, "image-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	for src, dst := range map[string]string{
		filepath.Join(b.root, "Dockerfile"): "Dockerfile",
		b.taskmasterd:                       "bin/taskmasterd",
		b.taskmasterctl:                     "bin/taskmasterctl",
	} {
		if err := copyFile(src, filepath.Join(dir, dst)); err != nil {
			return 0, err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	defer exec.Command("docker", "rmi", "-f", imageTag).Run() //nolint:errcheck // best effort
	if out, err := exec.CommandContext(ctx, "docker", "build", "-q", "-t", imageTag, dir).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("docker build: %v: %s", err, strings.TrimSpace(string(out)))
	}
	out, err := exec.CommandContext(ctx, "docker", "image", "inspect", "-f", "{{.Size}}", imageTag).Output()
	if err != nil {
		return 0, fmt.Errorf("docker image inspect: %w", err)
	}
	return strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
}

// copyFile copies src to dst, making dst's directory, with src's mode.
func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, fi.Mode().Perm())
}
