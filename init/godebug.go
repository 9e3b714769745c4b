package pid1

import (
	"os"
	"strings"
	"syscall"

	"github.com/taskmaster/taskmaster/sigcatch"
)

// origGODEBUG keeps the GODEBUG taskmasterd was started with, so that jobs
// get it back unchanged.
const origGODEBUG = "TASKMASTER_ORIG_GODEBUG"

// noPreempt is the GODEBUG setting that stops the Go runtime from sending
// SIGURG to its own threads to preempt goroutines.
const noPreempt = sigcatch.NoPreempt

// OwnSIGURG makes every SIGURG taskmasterd receives one that someone else
// sent, so that it can be forwarded like any other signal: the Go runtime
// preempts goroutines with SIGURG unless GODEBUG says asyncpreemptoff=1.
// `make build` links that setting in (sigcatch's linkedGODEBUG), which
// costs nothing at start. Without it (a plain `go build`, or an environment that turns
// preemption back on), the setting can only come from the environment
// before the runtime starts, so taskmasterd re-execs itself once with it;
// the pid does not change. taskmasterd runs no long computation that
// would need async preemption.
//
// It returns if the setting is in place already or the re-exec is not
// possible (no /proc), in which case a SIGURG is not forwarded.
func OwnSIGURG() {
	if sigcatch.PreemptionOff() {
		return
	}
	godebug := os.Getenv("GODEBUG")
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
// without its secrets (the control token, the fleet agent's secret: a job
// that runs as nobody reads its own environment in /proc, and either would
// give it control) and with the GODEBUG taskmasterd was started with
// rather than the one OwnSIGURG set.
func jobEnvironment() []string {
	var env []string
	orig, ours := os.LookupEnv(origGODEBUG)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case secretEnv[name] || name == origGODEBUG:
			continue
		case name == "NOTIFY_SOCKET" || name == "WATCHDOG_USEC" || name == "WATCHDOG_PID":
			// taskmasterd's own (under systemd): a job must not speak for
			// it. A job with a notify ready check gets its own.
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

// secretEnv are the variables of taskmasterd's environment that hold its
// secrets, which jobs do not inherit.
var secretEnv = map[string]bool{
	"TASKMASTER_TOKEN":        true, // the control port's and the live link's
	"TASKMASTER_AGENT_SECRET": true, // the fleet agent's, which joins the manager
}
