package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// notifyMode speaks systemd's sd_notify protocol, as a daemon would:
//
//	testprog notify -out FILE [-gate FIFO] [-signal SIG] [-status TEXT] [-pings N]
//
// It appends "started PID NANOS" to FILE (NANOS: its own clock, Unix
// nanoseconds) and "socket $NOTIFY_SOCKET", sends STATUS=TEXT, waits until
// the gate opens (the fifo reaches its end) and until it receives signal
// SIG (USR2, say: one taskmasterd forwards), sends READY=1 and appends
// "ready PID NANOS". With
// $WATCHDOG_USEC it appends "watchdog USEC PID NANOS" and sends WATCHDOG=1
// three times per period, N times (-1: for ever), then goes quiet. It runs until a signal ends it.
func notifyMode(args []string) {
	fs := flag.NewFlagSet("notify", flag.ExitOnError)
	out := fs.String("out", "", "file to append to")
	gate := fs.String("gate", "", "a fifo to read to its end before READY=1")
	status := fs.String("status", "", "STATUS= to send first")
	pings := fs.Int("pings", -1, "WATCHDOG=1 to send (-1: for ever)")
	sig := fs.String("signal", "", "a signal to wait for before READY=1")
	_ = fs.Parse(args)

	var got chan os.Signal
	if *sig != "" {
		got = make(chan os.Signal, 1)
		signal.Notify(got, signalNamed(*out, *sig))
	}
	stamp(*out, "started")
	appendLine(*out, "socket "+os.Getenv("NOTIFY_SOCKET"))
	if *status != "" {
		sdNotify(*out, "STATUS="+*status)
	}
	waitGate(*out, *gate)
	if got != nil {
		<-got
	}
	sdNotify(*out, "READY=1\nSTATUS=ready")
	stamp(*out, "ready")
	if usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && usec > 0 {
		stamp(*out, fmt.Sprintf("watchdog %d", usec))
		for i := 0; *pings < 0 || i < *pings; i++ {
			time.Sleep(time.Duration(usec) * time.Microsecond / 3)
			sdNotify(*out, "WATCHDOG=1")
		}
	}
	for {
		time.Sleep(time.Hour)
	}
}

// notifyFDMode tells its readiness as s6 asks:
//
//	testprog notifyfd -out FILE -fd N [-gate FIFO]
//
// It appends "started PID NANOS", waits for the gate, writes a line to its
// descriptor N, closes it and appends "ready PID NANOS".
func notifyFDMode(args []string) {
	fs := flag.NewFlagSet("notifyfd", flag.ExitOnError)
	out := fs.String("out", "", "file to append to")
	fd := fs.Int("fd", 3, "the descriptor to write the line to")
	gate := fs.String("gate", "", "a fifo to read to its end first")
	_ = fs.Parse(args)

	stamp(*out, "started")
	waitGate(*out, *gate)
	f := os.NewFile(uintptr(*fd), "notification-fd")
	if _, err := f.WriteString("ready\n"); err != nil {
		fail(*out, err)
	}
	_ = f.Close()
	stamp(*out, "ready")
	for {
		time.Sleep(time.Hour)
	}
}

// signalNamed is the signal named name ("USR2" or "SIGUSR2").
func signalNamed(out, name string) os.Signal {
	s := unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(name), "SIG"))
	if s == 0 {
		fail(out, fmt.Errorf("unknown signal %q", name))
	}
	return s
}

// stamp appends "WHAT PID NANOS".
func stamp(out, what string) {
	appendLine(out, fmt.Sprintf("%s %d %d", what, os.Getpid(), time.Now().UnixNano()))
}

func waitGate(out, gate string) {
	if gate == "" {
		return
	}
	f, err := os.Open(gate)
	if err != nil {
		fail(out, err)
	}
	_, _ = io.Copy(io.Discard, f)
	_ = f.Close()
}

// sdNotify sends one datagram to $NOTIFY_SOCKET, as sd_notify(3) does.
func sdNotify(out, msg string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		fail(out, fmt.Errorf("no NOTIFY_SOCKET"))
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		fail(out, err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(msg)); err != nil {
		fail(out, err)
	}
}

func fail(out string, err error) {
	appendLine(out, "error "+err.Error())
	os.Exit(1)
}
