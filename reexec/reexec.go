// Package reexec sets a child's umask without touching taskmasterd's own.
//
// The umask is per process, shared by every thread of taskmasterd, and
// syscall.ProcAttr has no field for it. Changing it around a fork would
// briefly give every file taskmasterd creates meanwhile the wrong mode. So a
// job with a umask is started as taskmasterd itself in a helper mode
// (/proc/self/exe), which sets the umask and execs the real program. The pid
// does not change across exec, so the reaper's registration stays valid.
package reexec

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// marker is argv[1] of a helper. argv cannot carry a NUL byte, so it is a
// word no user would pass to taskmasterd.
const marker = "-taskmaster.internal.umask-exec"

// SelfExe is the path a helper is started from.
const SelfExe = "/proc/self/exe"

// Wrap returns the path and argv that start argv0 (an absolute path) with
// argv under umask. The environment is passed through unchanged.
func Wrap(umask int, argv0 string, argv []string) (string, []string) {
	wrapped := make([]string, 0, len(argv)+4)
	wrapped = append(wrapped, "taskmaster-umask", marker, strconv.FormatInt(int64(umask), 8), argv0)
	return SelfExe, append(wrapped, argv...)
}

// SpawnHelperMarker is argv[1] of the spawn helper (package spawnhelper),
// the other mode taskmasterd is started again in. It lives here, with the
// umask helper's, so that package early, which must initialise before the
// heavy packages, can tell both modes apart without importing more.
const SpawnHelperMarker = "-taskmaster.internal.spawn-helper"

// SpawnHelper reports whether this process was started as the spawn
// helper.
func SpawnHelper() bool {
	return len(os.Args) == 2 && os.Args[1] == SpawnHelperMarker
}

// Helper reports whether this process was started as the helper (Wrap),
// which Main turns into its program.
func Helper() bool {
	return len(os.Args) >= 5 && os.Args[1] == marker
}

// Main runs the helper when this process was started as one, and never
// returns then. Call it first in main, before anything else.
func Main() {
	if !Helper() {
		return
	}
	os.Exit(run(os.Args[2], os.Args[3], os.Args[4:]))
}

func run(mask, argv0 string, argv []string) int {
	m, err := strconv.ParseUint(mask, 8, 32)
	if err != nil {
		fmt.Fprintf(os.Stderr, "taskmaster: bad umask %q\n", mask)
		return 126
	}
	syscall.Umask(int(m))
	err = syscall.Exec(argv0, argv, os.Environ())
	// The daemon checked the program before starting us; this is a race
	// with the file changing, reported the way a shell reports it.
	fmt.Fprintf(os.Stderr, "taskmaster: exec %s: %v\n", argv0, err)
	if err == syscall.ENOENT {
		return 127
	}
	return 126
}
