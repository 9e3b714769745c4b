package jobfile

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testPath is where test job files pretend to live.
const testPath = "/srv/jobs/web.tm.json"

// mustParse parses data as testPath and fails the test on error.
func mustParse(t *testing.T, data string) *Spec {
	t.Helper()
	s, err := Parse(testPath, []byte(data))
	require.NoError(t, err)
	require.NotNil(t, s)
	return s
}

func TestParseDefaults(t *testing.T) {
	want := &Spec{
		Name:           "web",
		Cmd:            []string{"sleep", "10"},
		NumProcs:       1,
		Umask:          -1,
		Env:            map[string]string{},
		AutoStart:      true,
		AutoRestart:    RestartUnexpected,
		ExitCodes:      []int{0},
		StartRetries:   3,
		StartTime:      time.Second,
		StopSignal:     syscall.SIGTERM,
		StopTime:       5 * time.Second,
		Stdout:         Output{Kind: OutputConsole},
		Stderr:         Output{Kind: OutputConsole},
		DependsOn:      []string{},
		ForwardSignals: []syscall.Signal{},
	}
	require.Equal(t, want, mustParse(t, `{"cmd": "sleep 10"}`))
}

func TestParseOriginalTaskmasterExample(t *testing.T) {
	s := mustParse(t, `{"cmd":"printenv","runas":"","procNr":1,"autoStart":false,"restart":0,"startTime":1,`+
		`"normalExitCode":0,"restartTimes":0,"stopSig":15,"stopTime":1,"stdout":"stdout.txt","stderr":"stderr.txt",`+
		`"env":[{"name":"TEST","value":"valueHere"}],"dir":"./env","umask":"0111"}`)
	want := &Spec{
		Name:           "web",
		Cmd:            []string{"printenv"},
		NumProcs:       1,
		Umask:          0o111,
		WorkingDir:     "/srv/jobs/env",
		Env:            map[string]string{"TEST": "valueHere"},
		AutoStart:      false,
		AutoRestart:    RestartNever,
		ExitCodes:      []int{0},
		StartRetries:   0,
		StartTime:      time.Second,
		StopSignal:     syscall.SIGTERM,
		StopTime:       time.Second,
		Stdout:         Output{Kind: OutputFile, Path: "/srv/jobs/env/stdout.txt"},
		Stderr:         Output{Kind: OutputFile, Path: "/srv/jobs/env/stderr.txt"},
		DependsOn:      []string{},
		ForwardSignals: []syscall.Signal{},
	}
	require.Equal(t, want, s)
}

// TestParseAccepted checks every accepted form of every key: body is added
// to a file holding only cmd, and field picks what to compare.
func TestParseAccepted(t *testing.T) {
	cmd := func(s *Spec) any { return s.Cmd }
	numprocs := func(s *Spec) any { return s.NumProcs }
	umask := func(s *Spec) any { return s.Umask }
	wd := func(s *Spec) any { return s.WorkingDir }
	env := func(s *Spec) any { return s.Env }
	autostart := func(s *Spec) any { return s.AutoStart }
	restart := func(s *Spec) any { return s.AutoRestart }
	codes := func(s *Spec) any { return s.ExitCodes }
	retries := func(s *Spec) any { return s.StartRetries }
	starttime := func(s *Spec) any { return s.StartTime }
	stopsig := func(s *Spec) any { return s.StopSignal }
	stoptime := func(s *Spec) any { return s.StopTime }
	leftovers := func(s *Spec) any { return s.Leftovers }
	stdout := func(s *Spec) any { return s.Stdout }
	stderr := func(s *Spec) any { return s.Stderr }
	critical := func(s *Spec) any { return s.Critical }
	tty := func(s *Spec) any { return s.TTY }
	deps := func(s *Spec) any { return s.DependsOn }
	fwd := func(s *Spec) any { return s.ForwardSignals }
	file := func(p string) Output { return Output{Kind: OutputFile, Path: p} }

	tests := []struct {
		name  string
		body  string // the members of the file; "cmd": "x" is added unless body starts with cmd
		field func(*Spec) any
		want  any
	}{
		{"cmd words", `"cmd": "nginx -g 'daemon off;'"`, cmd, []string{"nginx", "-g", "daemon off;"}},
		{"cmd exec form", `"cmd": ["sh", "-c", "echo $HOME | wc"]`, cmd, []string{"sh", "-c", "echo $HOME | wc"}},
		{"cmd exec form empty arg", `"cmd": ["printf", ""]`, cmd, []string{"printf", ""}},
		{"cmd unicode", `"cmd": "echo héllo 'wörld'"`, cmd, []string{"echo", "héllo", "wörld"}},
		{"numprocs", `"numprocs": 4`, numprocs, 4},
		{"tty", `"tty": true`, tty, true},
		{"tty false with stderr", `"tty": false, "stderr": "discard"`, stderr, Output{Kind: OutputDiscard}},
		{"tty with stdout", `"tty": true, "stdout": "/var/log/x"`, stdout, file("/var/log/x")},
		{"numprocs max", `"numprocs": 1024`, numprocs, 1024},
		{"numprocs integral float", `"numprocs": 2.0`, numprocs, 2},
		{"numprocs exponent", `"numprocs": 1e2`, numprocs, 100},
		{"procNr", `"procNr": 3`, numprocs, 3},
		{"umask string", `"umask": "022"`, umask, 0o22},
		{"umask 4 digits", `"umask": "0022"`, umask, 0o22},
		{"umask 0o", `"umask": "0o27"`, umask, 0o27},
		{"umask 0111", `"umask": "0111"`, umask, 0o111},
		{"umask 777", `"umask": "777"`, umask, 0o777},
		{"umask zero", `"umask": "0"`, umask, 0},
		{"umask empty inherits", `"umask": ""`, umask, -1},
		{"umask number", `"umask": 22`, umask, 0o22},
		{"umask number 0", `"umask": 0`, umask, 0},
		{"umask number 777", `"umask": 777`, umask, 0o777},
		{"workingdir absolute", `"workingdir": "/var/www/../lib/"`, wd, "/var/lib"},
		{"workingdir relative", `"workingdir": "app/./data"`, wd, "/srv/jobs/app/data"},
		{"workingdir parent", `"workingdir": "../app"`, wd, "/srv/app"},
		{"workingdir empty", `"workingdir": ""`, wd, ""},
		{"dir", `"dir": "./env"`, wd, "/srv/jobs/env"},
		{"env object", `"env": {"A": "1", "B": "", "lower_x": "a=b"}`, env, map[string]string{"A": "1", "B": "", "lower_x": "a=b"}},
		{"env empty", `"env": {}`, env, map[string]string{}},
		{"env list", `"env": [{"name": "A", "value": "1"}, {"value": "2", "name": "B"}]`, env, map[string]string{"A": "1", "B": "2"}},
		{"env empty list", `"env": []`, env, map[string]string{}},
		{"autostart false", `"autostart": false`, autostart, false},
		{"autostart true", `"autostart": true`, autostart, true},
		{"autoStart", `"autoStart": false`, autostart, false},
		{"autorestart false", `"autorestart": false`, restart, RestartNever},
		{"autorestart true", `"autorestart": true`, restart, RestartAlways},
		{"autorestart string false", `"autorestart": "false"`, restart, RestartNever},
		{"autorestart string true", `"autorestart": "true"`, restart, RestartAlways},
		{"autorestart unexpected", `"autorestart": "unexpected"`, restart, RestartUnexpected},
		{"restart 0", `"restart": 0`, restart, RestartNever},
		{"restart 1", `"restart": 1`, restart, RestartUnexpected},
		{"restart 2", `"restart": 2`, restart, RestartAlways},
		{"exitcodes one", `"exitcodes": 2`, codes, []int{2}},
		{"exitcodes list", `"exitcodes": [255, 0, 2, 0]`, codes, []int{0, 2, 255}},
		{"normalExitCode", `"normalExitCode": 1`, codes, []int{1}},
		{"normalExitCode list", `"normalExitCode": [1, 3]`, codes, []int{1, 3}},
		{"startretries", `"startretries": 0`, retries, 0},
		{"startretries max", `"startretries": 1000`, retries, 1000},
		{"restartTimes", `"restartTimes": 7`, retries, 7},
		{"starttime", `"starttime": 10`, starttime, 10 * time.Second},
		{"starttime fraction", `"starttime": 0.5`, starttime, 500 * time.Millisecond},
		{"starttime zero", `"starttime": 0`, starttime, time.Duration(0)},
		{"starttime tenth", `"starttime": 0.1`, starttime, 100 * time.Millisecond},
		{"startTime", `"startTime": 2`, starttime, 2 * time.Second},
		{"stopsignal name", `"stopsignal": "INT"`, stopsig, syscall.SIGINT},
		{"stopsignal SIG name", `"stopsignal": "SIGQUIT"`, stopsig, syscall.SIGQUIT},
		{"stopsignal lower", `"stopsignal": "usr1"`, stopsig, syscall.SIGUSR1},
		{"stopsignal KILL", `"stopsignal": "KILL"`, stopsig, syscall.SIGKILL},
		{"stopsignal number", `"stopsignal": 10`, stopsig, syscall.SIGUSR1},
		{"stopsignal RTMIN+3", `"stopsignal": "RTMIN+3"`, stopsig, syscall.Signal(37)},
		{"stopSig", `"stopSig": 15`, stopsig, syscall.SIGTERM},
		{"stopSig name", `"stopSig": "SIGHUP"`, stopsig, syscall.SIGHUP},
		{"stoptime", `"stoptime": 30`, stoptime, 30 * time.Second},
		{"stoptime fraction", `"stoptime": 1.25`, stoptime, 1250 * time.Millisecond},
		{"stoptime max", `"stoptime": 86400`, stoptime, 86400 * time.Second},
		{"stopTime", `"stopTime": 3`, stoptime, 3 * time.Second},
		{"leftovers default", `"numprocs": 1`, leftovers, LeftoversStop},
		{"leftovers stop", `"leftovers": "stop"`, leftovers, LeftoversStop},
		{"leftovers keep", `"leftovers": "keep"`, leftovers, LeftoversKeep},
		{"stdout empty", `"stdout": ""`, stdout, Output{Kind: OutputConsole}},
		{"stdout console", `"stdout": "console"`, stdout, Output{Kind: OutputConsole}},
		{"stdout discard", `"stdout": "discard"`, stdout, Output{Kind: OutputDiscard}},
		{"stdout absolute", `"stdout": "/var/log/web.log"`, stdout, file("/var/log/web.log")},
		{"stdout relative", `"stdout": "logs/web.log"`, stdout, file("/srv/jobs/logs/web.log")},
		{"stdout relative to workingdir", `"workingdir": "/app", "stdout": "out.log"`, stdout, file("/app/out.log")},
		{"stdout relative to relative workingdir", `"stdout": "../out.log", "workingdir": "app"`, stdout, file("/srv/jobs/out.log")},
		{"stdout ./discard is a file", `"stdout": "./discard"`, stdout, file("/srv/jobs/discard")},
		{"stderr discard", `"stderr": "discard"`, stderr, Output{Kind: OutputDiscard}},
		{"stderr file", `"stderr": "err.log", "dir": "/tmp"`, stderr, file("/tmp/err.log")},
		{"critical", `"critical": true`, critical, true},
		{"depends_on", `"depends_on": ["db", "cache.v2"]`, deps, []string{"cache.v2", "db"}},
		{"depends_on empty", `"depends_on": []`, deps, []string{}},
		{"forwardsignals", `"forwardsignals": ["USR2", "SIGWINCH", 12, "rtmax"]`, fwd,
			[]syscall.Signal{syscall.SIGUSR2, syscall.SIGWINCH, 64}},
		{"$schema ignored", `"$schema": "../docs/tm.schema.json"`, numprocs, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, withCmd(tt.body))
			require.Equal(t, tt.want, tt.field(s))
		})
	}
}

// withCmd builds a file from body, adding a cmd unless body sets one.
func withCmd(body string) string {
	if strings.HasPrefix(body, `"cmd":`) {
		return "{" + body + "}"
	}
	return `{"cmd": "x", ` + body + "}"
}

func TestParseBOM(t *testing.T) {
	s := mustParse(t, "\xef\xbb\xbf{\"cmd\": \"x\"}")
	require.Equal(t, []string{"x"}, s.Cmd)
}

func TestParseRelativeJobFile(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := Parse("web.tm.json", []byte(`{"cmd": "x", "stdout": "out.log"}`))
	require.NoError(t, err)
	wd, err := os.Getwd()
	require.NoError(t, err)
	require.Equal(t, Output{Kind: OutputFile, Path: wd + "/out.log"}, s.Stdout)
}
