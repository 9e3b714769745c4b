// Command taskmasterctl controls taskmasterd over its control protocol:
//
//	taskmasterctl [-addr ADDR] [-token T] [-json] [-timeout D] COMMAND [ARGS]
//	taskmasterctl              an interactive shell, when stdin is a terminal
//
// Everything but the wiring to the process lives in package ctl;
// docs/taskmasterctl.md is the manual.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/taskmaster/taskmaster/ctl"
)

func main() {
	os.Exit(ctl.Main(os.Args[1:], ctl.Env{
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Getenv:    os.Getenv,
		Interrupt: interrupt,
	}))
}

// interrupt ends a command on Ctrl-C or SIGTERM instead of killing the
// process, so that the shell survives and the terminal mode is restored.
func interrupt(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
}
