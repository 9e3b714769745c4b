package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// counter prints "line N" every 50ms, from 0.
var counter = []string{"/bin/sh", "-c", `i=0; while :; do echo "line $i"; i=$((i+1)); sleep 0.05; done`}

// lineNumber is N of "line N", or -1.
func lineNumber(s string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "line "))
	if err != nil || !strings.HasPrefix(s, "line ") {
		return -1
	}
	return n
}

func TestCtlTail(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"talker": jobFile("cmd", counter, "starttime", 0, "stoptime", 2),
		"pair":   jobFile("cmd", []string{"/bin/sh", "-c", `echo "I am $TASKMASTER_INSTANCE"; exec /bin/sleep 1000`}, "numprocs", 2, "starttime", 0, "stoptime", 2),
	}})
	out := d.awaitCtl(10*time.Second, func(s string) bool { return strings.Contains(s, "line 3\n") }, "tail", "talker")
	require.True(t, strings.HasPrefix(out, "line 0\nline 1\nline 2\nline 3\n"), "tail shows the output from its start: %q", out)
	require.Regexp(t, regexp.MustCompile(`^(line \d+\n)+$`), out)

	// A job of two instances needs NAME:N.
	d.awaitCtl(10*time.Second, func(s string) bool { return s == "I am pair:1\n" }, "tail", "pair:1")
	stdout, errOut := d.ctlExit(1, "tail", "pair")
	require.Empty(t, stdout)
	require.Contains(t, errOut, "taskmasterctl: pair: ")
	require.Contains(t, errOut, "pair:0")
	_, errOut = d.ctlExit(1, "tail", "nope")
	require.Contains(t, errOut, "taskmasterctl: nope: ")
}

// tail -f prints what was kept, then the new lines as they come, until
// interrupted.
func TestCtlTailFollow(t *testing.T) {
	forEachMode(t, func(t *testing.T, m mode) {
		d := startListening(t, daemonOpts{mode: m, jobs: map[string]string{
			"talker": jobFile("cmd", counter, "starttime", 0, "stoptime", 2),
		}})
		out := d.awaitCtl(10*time.Second, func(s string) bool { return strings.Contains(s, "line 2\n") }, "tail", "talker")
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		last := lineNumber(lines[len(lines)-1])

		tail := d.ctlBackground("tail", "-f", "talker")
		tail.awaitLine(10*time.Second, func(s string) bool { return s == "line 0" }, "the kept output from line 0")
		// Lines numbered 20 past what was there before can only have been
		// printed after tail -f started following.
		want := last + 20
		prev := 0
		tail.awaitLine(15*time.Second, func(s string) bool {
			n := lineNumber(s)
			require.Equal(t, prev+1, n, "lines lost or repeated: %q after line %d", s, prev)
			prev = n
			return n >= want
		}, "line "+strconv.Itoa(want))
		require.Equal(t, 130, tail.interrupt(5*time.Second), "tail -f ended by SIGINT")
		require.Contains(t, tail.stderr.String(), "taskmasterctl: interrupted")
	})
}

// docs/protocol.md (tail): taskmasterd keeps the recent output of every
// instance, except a stream that goes to "discard": that one goes to
// /dev/null directly and costs nothing.
func TestCtlTailKeepsAllButDiscardedOutput(t *testing.T) {
	d := startListening(t, daemonOpts{mode: asPID1, jobs: map[string]string{
		"quiet": jobFile("cmd", []string{"/bin/sh", "-c", "echo hidden; echo shown >&2; exec /bin/sleep 1000"},
			"starttime", 0, "stoptime", 2, "stdout", "discard"),
		"loud": jobFile("cmd", []string{"/bin/sh", "-c", "echo hello; exec /bin/sleep 1000"}, "starttime", 0, "stoptime", 2),
	}})
	d.awaitCtl(10*time.Second, func(s string) bool { return s == "hello\n" }, "tail", "loud")
	d.awaitCtl(10*time.Second, func(s string) bool { return s == "shown\n" }, "tail", "quiet")
}
