package ctl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// hostile is text a job's program (an exec check's output, an http
// check's answer) or a fleet agent (anything in its statuses) chooses:
// terminal controls that retitle the window, write the clipboard (OSC
// 52), move the cursor up and erase what was printed (CSI, 8-bit CSI).
const hostile = "ok\x1b]0;pwned\x07\x1b]52;c;ZWNobyBwd25lZA==\x07\x1b[2A\x1b[2K\u009b2Jdone\x7f"

// noControls fails when out holds a terminal control character.
func noControls(t *testing.T, out string) {
	t.Helper()
	for _, r := range out {
		if r == '\n' {
			continue
		}
		require.False(t, r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0), "control %U reaches the terminal in %q", r, out)
	}
}

func TestStatusShowsNoTerminalControls(t *testing.T) {
	js := `{"jobs":[{"agent":"a` + `","name":"a/web","state":"RUNNING","autostart":true,"healthy":false,"error":"` + jsonText(hostile) + `","processes":[` +
		`{"name":"a/web:0` + jsonText(hostile) + `","pid":42,"state":"RUNNING` + jsonText(hostile) + `","since":"2026-11-21T20:00:00Z","restarts":0,"exit_code":null,` +
		`"detail":"` + jsonText(hostile) + `","health":"unhealthy","check_error":"` + jsonText(hostile) + `","notify_status":"` + jsonText(hostile) + `"}]}]}`
	d := statusDaemon(t, js)
	got := d.run("status")
	noControls(t, got.stdout)
	require.Contains(t, got.stdout, `ok\x1b]0;pwned\x07`, "shown escaped, so the operator sees what came")
	got = d.run("health")
	noControls(t, got.stdout+got.stderr)
}

func TestAgentsShowNoTerminalControls(t *testing.T) {
	data := `{"agents":[{"id":"a","address":"127.0.0.1:1","state":"connected` + jsonText(hostile) + `","since":"2026-11-21T20:00:00Z",` +
		`"version":"` + jsonText(hostile) + `","reason":"` + jsonText(hostile) + `"}]}`
	d := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response { return ctlproto.Status([]byte(data)) })
	got := d.run("agents")
	noControls(t, got.stdout+got.stderr)
}

func TestRefusalsShowNoTerminalControls(t *testing.T) {
	d := startDaemon(t, func(*ctlproto.Request) *ctlproto.Response { return ctlproto.Failf("%s", hostile) })
	got := d.run("stop", "a/web")
	noControls(t, got.stdout+got.stderr)
	require.Contains(t, got.stderr, `\x1b[2A`)
}

// jsonText escapes s for a JSON string.
func jsonText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
			b.WriteString(`\u00` + "0123456789abcdef"[r>>4:r>>4+1] + "0123456789abcdef"[r&15:r&15+1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
