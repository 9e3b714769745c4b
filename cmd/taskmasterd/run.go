package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	pid1 "github.com/taskmaster/taskmaster/init"
	"github.com/taskmaster/taskmaster/internal/version"
)

// run is taskmasterd after its signals are caught (sigErr says which could
// not be); it returns the exit code.
func run(args []string, sigs *pid1.Signals, sigErr error) int {
	o, err := parseFlags(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return pid1.ExitOK
	}
	if err != nil {
		return pid1.ExitUsage
	}
	if o.version {
		fmt.Println("taskmasterd", version.Version)
		return pid1.ExitOK
	}
	if o.fleet.printCert {
		if err := o.fleet.printFingerprint(o.state, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "taskmasterd:", err)
			return pid1.ExitError
		}
		return pid1.ExitOK
	}
	log, err := newLogger(o.logLevel, o.logFormat, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "taskmasterd:", err)
		return pid1.ExitUsage
	}
	cfg, err := o.config(log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "taskmasterd:", err)
		return pid1.ExitUsage
	}
	log.Info("taskmasterd starting", "version", version.Version, "pid", os.Getpid(), "jobs", cfg.JobsDir, "state", cfg.StateDir)
	if sigErr != nil {
		log.Warn("not every signal is caught", "err", sigErr)
	}
	if o.tokenFlag {
		log.Warn("-token on the command line can be read by every local user in /proc; set TASKMASTER_TOKEN instead")
	}
	return pid1.Run(cfg, sigs)
}
