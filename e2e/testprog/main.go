// Command testprog is the program e2e tests run as a job: it records every
// signal it receives, so a test can check what taskmasterd sent it.
//
//	testprog record -out FILE [-exit-on TERM,INT] [-children N]
//	testprog sleep
//	testprog notify -out FILE [-gate FIFO] [-status TEXT] [-pings N]
//	testprog notifyfd -out FILE -fd N [-gate FIFO]
//	testprog fleetpeer ADDR garbage|oversized
//
// record appends "ready PID" to FILE once its handlers are installed, then
// "child PID" for each child it started (children sleep in its process
// group with default signal handling), then one line per signal received,
// named as kill -l names it ("SIGTERM"; "SIG34" for a realtime signal,
// which has no name there). It exits 0 after recording a
// signal listed in -exit-on ("none" for never).
//
// notify and notifyfd are programs that tell their readiness themselves
// (ready.go): with sd_notify's protocol, and on a descriptor as s6 asks.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/taskmaster/taskmaster/sigcatch"
)

func main() {
	// Without async preemption the Go runtime sends itself no SIGURG, so
	// every SIGURG recorded is one taskmasterd forwarded.
	if !strings.Contains(os.Getenv("GODEBUG"), "asyncpreemptoff=1") {
		env := append(os.Environ(), "GODEBUG=asyncpreemptoff=1")
		_ = syscall.Exec("/proc/self/exe", os.Args, env)
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: testprog record|sleep|notify|notifyfd ...")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "record":
		record(os.Args[2:])
	case "notify":
		notifyMode(os.Args[2:])
	case "notifyfd":
		notifyFDMode(os.Args[2:])
	case "fleetpeer":
		fleetPeer(os.Args[2:])
	case "sleep":
		// Not select {}: with no other goroutine, the runtime takes that
		// for a deadlock and ends the program.
		for {
			time.Sleep(time.Hour)
		}
	default:
		fmt.Fprintln(os.Stderr, "testprog: unknown mode", os.Args[1])
		os.Exit(2)
	}
}

func record(args []string) {
	fs := flag.NewFlagSet("record", flag.ExitOnError)
	out := fs.String("out", "", "file to append to")
	exitOn := fs.String("exit-on", "TERM,INT,QUIT", "signals to exit on after recording, or none")
	children := fs.Int("children", 0, "children to start in the process group")
	_ = fs.Parse(args)

	sigs := make(chan os.Signal, 128)
	var all []os.Signal
	for n := syscall.Signal(1); n <= 64; n++ {
		if n != syscall.SIGKILL && n != syscall.SIGSTOP && n != syscall.SIGPROF && n != 32 && n != 33 && n != 34 {
			all = append(all, n)
		}
	}
	signal.Notify(sigs, all...)
	// 32 and 34, which os/signal cannot catch, as taskmasterd catches them.
	if err := sigcatch.Notify(sigs); err != nil {
		appendLine(*out, "error "+err.Error())
		os.Exit(1)
	}
	appendLine(*out, fmt.Sprintf("ready %d", os.Getpid()))
	for range *children {
		cmd := exec.Command("/proc/self/exe", "sleep")
		if err := cmd.Start(); err != nil {
			appendLine(*out, "error "+err.Error())
			os.Exit(1)
		}
		appendLine(*out, fmt.Sprintf("child %d", cmd.Process.Pid))
	}
	exits := map[string]bool{}
	for _, s := range strings.Split(*exitOn, ",") {
		exits["SIG"+strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SIG")] = true
	}
	for s := range sigs {
		name := unix.SignalName(s.(syscall.Signal))
		if name == "" {
			name = fmt.Sprintf("SIG%d", int(s.(syscall.Signal)))
		}
		if name == "SIGCHLD" {
			continue // our own children's news, not taskmasterd's
		}
		appendLine(*out, name)
		if exits[name] {
			os.Exit(0)
		}
	}
}

// appendLine appends one line with a single write, so lines from several
// processes sharing the file never mix.
func appendLine(path, line string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testprog:", err)
		os.Exit(1)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		fmt.Fprintln(os.Stderr, "testprog:", err)
		os.Exit(1)
	}
}
