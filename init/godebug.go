package pid1

import (
	"os"
	"strings"
	"syscall"
)

// origGODEBUG keeps the GODEBUG taskmasterd was started with, so that jobs
// get it back unchanged.
const origGODEBUG = "TASKMASTER_ORIG_GODEBUG"

// noPreempt is the GODEBUG setting that stops the Go runtime from sending
// SIGURG to its own threads to preempt goroutines.
const noPreempt = "asyncpreemptoff=1"

// OwnSIGURG makes every SIGURG taskmasterd receives one that someone else
// sent, so that it can be forwarded like any other signal: the Go runtime
// preempts goroutines with SIGURG unless GODEBUG says asyncpreemptoff=1,
// which can only be set in the environment before the runtime starts. So
// taskmasterd re-execs itself once with it; the pid does not change.
// taskmasterd runs no long computation that would need async preemption.
//
// It returns if the setting is in place already or the re-exec is not
// possible (no /proc), in which case a SIGURG is not forwarded.
func OwnSIGURG() {
	godebug := os.Getenv("GODEBUG")
	if strings.Contains(godebug, noPreempt) {
		return
	}
	// The first GODEBUG in the environment is the one that counts, so the
	// old one goes. The marker says that the setting is ours, and keeps
	// what was there for the jobs.
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != "GODEBUG" && name != origGODEBUG {
			env = append(env, kv)
		}
	}
	env = append(env, origGODEBUG+"="+godebug)
	if godebug != "" {
		godebug += ","
	}
	env = append(env, "GODEBUG="+godebug+noPreempt)
	_ = syscall.Exec(selfPath(), os.Args, env)
}

// selfPath is the file to re-exec: taskmasterd's own path, so that the
// process keeps its name (ps and /proc/PID/comm show the file name exec'd,
// and "exe" would replace "taskmasterd"), or /proc/self/exe when the path
// is not known or the file is gone.
func selfPath() string {
	p, err := os.Executable()
	if err != nil || strings.HasSuffix(p, " (deleted)") {
		return "/proc/self/exe"
	}
	return p
}

// jobEnvironment is the environment jobs start from: taskmasterd's own,
// without the control token (a secret of taskmasterd's) and with the
// GODEBUG taskmasterd was started with rather than the one OwnSIGURG set.
func jobEnvironment() []string {
	var env []string
	orig, ours := os.LookupEnv(origGODEBUG)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case name == "TASKMASTER_TOKEN" || name == origGODEBUG:
			continue
		case name == "GODEBUG" && ours:
			if orig == "" {
				continue
			}
			kv = "GODEBUG=" + orig
		}
		env = append(env, kv)
	}
	return env
}
