// Command goinit is a baseline of make bench (section 8, single-command
// overhead), not an init to use: the least a Go init of one command does,
// with taskmasterd's own way of catching signals (package sigcatch) and
// nothing else. It catches every signal, makes itself a subreaper, starts
// the command, passes every signal on to it, reaps every child, and exits
// with the command's status. It has no shutdown, no sweep of leftover
// processes, no logs, no state: what it costs over /bin/true is the floor
// under taskmasterd's single-command mode for any Go program that keeps
// the same signal guarantees.
//
//	goinit            catch every signal, then exit
//	goinit CMD [ARG]  run CMD as above
package main

import (
	"errors"
	"os"
	"syscall"

	"github.com/taskmaster/taskmaster/sigcatch"
)

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER.
const prSetChildSubreaper = 36

func main() {
	sigs, err := sigcatch.CatchAll()
	if err != nil {
		fail(err)
	}
	if len(os.Args) < 2 {
		return
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		fail(errno)
	}
	pid, err := syscall.ForkExec(os.Args[1], os.Args[1:], &syscall.ProcAttr{
		Env: os.Environ(), Files: []uintptr{0, 1, 2},
	})
	if err != nil {
		fail(err)
	}
	go forward(sigs.Other, pid)
	os.Exit(reapUntil(pid))
}

// forward passes every signal caught on to the command.
func forward(sigs <-chan os.Signal, pid int) {
	for s := range sigs {
		_ = syscall.Kill(pid, s.(syscall.Signal))
	}
}

// reapUntil reaps every child, in blocking wait4s, until pid ends, and
// returns the exit code that pid's end stands for (128+N for signal N).
func reapUntil(pid int) int {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case err != nil:
			fail(err)
		case got != pid:
			continue
		case ws.Signaled():
			return 128 + int(ws.Signal())
		default:
			return ws.ExitStatus()
		}
	}
}

func fail(err error) {
	os.Stderr.WriteString("goinit: " + err.Error() + "\n")
	os.Exit(127)
}
