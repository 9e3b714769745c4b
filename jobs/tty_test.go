package jobs

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs/attach"
	"github.com/taskmaster/taskmaster/jobs/output"
	"github.com/taskmaster/taskmaster/reaper"
)

// ttyStarter returns a real Starter whose console output goes to stdout,
// and its reaper.
func ttyStarter(t *testing.T, stdout *syncBuffer) (Starter, *reaper.Reaper) {
	t.Helper()
	r := reaper.New(nil)
	poller, err := output.NewPoller()
	require.NoError(t, err)
	t.Cleanup(func() { _ = poller.Close() })
	return NewStarter(StarterConfig{
		Forker: r, Env: []string{"PATH=/usr/bin:/bin"}, Poller: poller,
		Stdout: output.NewConsole(stdout), Stderr: output.NewConsole(&syncBuffer{}),
	}), r
}

// awaitOutput takes a session's output until it holds want.
func awaitOutput(t *testing.T, s *attach.Session, seen *strings.Builder, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !strings.Contains(seen.String(), want) {
		out, end, err := s.Next(ctx)
		require.NoError(t, err, "waiting for %q, got %q", want, seen.String())
		require.Nil(t, end, "waiting for %q, got %q", want, seen.String())
		seen.Write(out)
	}
}

// A tty job's process leads a session of its own whose controlling
// terminal is its stdin, stdout and stderr; an attached client types into
// it and sees what it writes as it writes it, prompts included; its output
// also goes through the usual path (console, ring) with its lines; the
// session ends with the exit code, after the last output.
func TestStarterTerminal(t *testing.T) {
	var stdout syncBuffer
	st, r := ttyStarter(t, &stdout)
	spec := testSpec("console")
	spec.TTY = true
	// It waits for a first line: a session sees what comes after it
	// attached, not before.
	spec.Cmd = []string{"/bin/sh", "-c", `read go; for fd in 0 1 2; do [ -t $fd ] && echo "fd $fd is a tty"; done; ` +
		`echo "TERM=$TERM"; stty size; printf 'name? '; read x; echo "hello $x"; exit 4`}
	ring := output.NewRing(output.DefaultRingCapacity)
	point := attach.NewPoint()
	exited := make(chan reaper.Exit, 1)
	pid, err := st.Start(&Proc{Name: "console:0", Spec: spec, Ring: ring, Point: point}, func(e reaper.Exit) { exited <- e })
	require.NoError(t, err)

	// Its own session and process group, led by it, on its terminal, in
	// the foreground of that terminal.
	stat := procStat(t, pid)
	require.Equal(t, pid, stat.pgrp, "process group")
	require.Equal(t, pid, stat.session, "session")
	require.NotZero(t, stat.ttyNr, "controlling terminal")
	require.Equal(t, pid, stat.tpgid, "foreground process group of its terminal")

	s, err := point.Attach(0)
	require.NoError(t, err)
	require.True(t, s.TTY())
	var seen strings.Builder
	_, err = s.Write([]byte("go\n"))
	require.NoError(t, err)
	awaitOutput(t, s, &seen, "name? ") // no newline: seen as it comes
	for _, line := range []string{"fd 0 is a tty", "fd 1 is a tty", "fd 2 is a tty", "TERM=xterm", "24 80"} {
		require.Contains(t, seen.String(), line+"\r\n")
	}
	_, err = s.Write([]byte("world\n"))
	require.NoError(t, err)
	awaitOutput(t, s, &seen, "hello world\r\n")

	var e reaper.Exit
	require.Eventually(t, func() bool {
		r.Reap()
		select {
		case e = <-exited:
			return true
		default:
			return false
		}
	}, 10*time.Second, time.Millisecond)
	require.Equal(t, 4, e.Code())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		out, end, err := s.Next(ctx)
		require.NoError(t, err)
		if end != nil {
			require.Equal(t, &attach.End{Exit: &attach.Exit{Code: 4}}, end)
			break
		}
		seen.Write(out)
	}
	// The console has the lines, with the instance's prefix; the ring too
	// (the unfinished "name? " line is finished by the input's echo).
	require.Contains(t, stdout.String(), "console:0 | fd 0 is a tty\r\n")
	require.Contains(t, stdout.String(), "console:0 | name? world\r\n")
	kept, _, _ := ring.Since(0)
	require.Contains(t, string(kept), "hello world\r\n")
	_, err = point.Attach(0)
	require.ErrorIs(t, err, attach.ErrNotRunning)
}

// The size a client set is the size of the instance's next terminal.
func TestStarterTerminalKeepsTheSize(t *testing.T) {
	var stdout syncBuffer
	st, _ := ttyStarter(t, &stdout)
	spec := testSpec("console")
	spec.TTY = true
	spec.Cmd = []string{"/bin/sh", "-c", `read go; stty size; read x`}
	point := attach.NewPoint()
	_, err := st.Start(&Proc{Name: "console:0", Spec: spec, Point: point}, func(reaper.Exit) {})
	require.NoError(t, err)
	s, err := point.Attach(0)
	require.NoError(t, err)
	require.NoError(t, s.Resize(attach.Size{Rows: 40, Cols: 100}))
	_, err = s.Write([]byte("\n\n"))
	require.NoError(t, err)

	_, err = st.Start(&Proc{Name: "console:0", Spec: spec, Point: point}, func(reaper.Exit) {})
	require.NoError(t, err)
	s2, err := point.Attach(0)
	require.NoError(t, err)
	var seen strings.Builder
	_, err = s2.Write([]byte("\n"))
	require.NoError(t, err)
	awaitOutput(t, s2, &seen, "40 100\r\n")
	_, err = s2.Write([]byte("\n"))
	require.NoError(t, err)
}

// stat is what a test reads of /proc/PID/stat.
type stat struct{ pgrp, session, ttyNr, tpgid int }

func procStat(t *testing.T, pid int) stat {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	// After "pid (comm) state": ppid pgrp session tty_nr tpgid.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	var st stat
	_, err = fmt.Sscan(strings.Join(fields[2:6], " "), &st.pgrp, &st.session, &st.ttyNr, &st.tpgid)
	require.NoError(t, err)
	return st
}
