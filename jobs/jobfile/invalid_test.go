package jobfile

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// job builds a file whose line 3 is member (so its key is at 3:3 and its
// value at 3:len(key)+7), after a valid cmd.
func job(member string) string {
	return "{\n  \"cmd\": \"x\",\n  " + member + "\n}"
}

// jobCmd builds a file whose cmd value is at 2:10.
func jobCmd(value string) string {
	return "{\n  \"cmd\": " + value + "\n}"
}

// TestParseInvalid checks, for each invalid file, the one error reported:
// its key, line, column and (part of) its message.
func TestParseInvalid(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		key       string
		line, col int
		msg       string
	}{
		// The file as a whole.
		{"missing comma", "{\n  \"cmd\": \"x\"\n  \"numprocs\": 2\n}", "", 3, 3, `invalid JSON: missing ',' before "numprocs" (after the value of "cmd")`},
		{"trailing comma", "{\n  \"cmd\": \"x\",\n}", "", 3, 1, `a comma before '}' (JSON allows no trailing comma)`},
		{"unclosed object", "{\n  \"cmd\": \"x\",", "", 2, 14, "unexpected end of file: the object that starts at 1:1 is not closed"},
		{"bad literal", "{\n  \"cmd\": \"x\",\n  \"autostart\": ture\n}", "", 3, 16, "ture is not a JSON value (did you mean true?)"},
		{"empty file", " \n\t", "", 0, 0, "the file is empty"},
		{"top level array", "\n [\"sleep\", \"1\"]", "", 2, 2, "expected a JSON object {...} at the top level, got an array"},
		{"top level string", `"sleep 1"`, "", 1, 1, `at the top level, got "sleep 1"`},
		{"trailing data", "{\"cmd\": \"x\"}\n{}", "", 2, 1, "unexpected data after the end of the job object"},
		{"trailing garbage", "{\"cmd\": \"x\"} x", "", 1, 14, "unexpected data after the end of the job object"},
		{"missing cmd", "{\n  \"numprocs\": 2\n}", "cmd", 0, 0, "required key is missing"},
		{"empty object", "{}", "cmd", 0, 0, "required key is missing"},
		{"duplicate key", job("\"numprocs\": 2, \"numprocs\": 3"), "numprocs", 3, 18, "duplicate key (first set at 3:3)"},
		{"alias and canonical", job("\"numprocs\": 2,\n  \"procNr\": 3"), "procNr", 4, 3, `"numprocs" (at 3:3) and "procNr" both set numprocs; keep only one`},
		{"canonical after alias", job("\"dir\": \"a\", \"workingdir\": \"b\""), "workingdir", 3, 15, `"dir" (at 3:3) and "workingdir" both set workingdir`},
		{"unknown key typo", job("\"nmprocs\": 2"), "nmprocs", 3, 3, `unknown key (did you mean "numprocs"?)`},
		{"unknown key case", job("\"NumProcs\": 2"), "NumProcs", 3, 3, `did you mean "numprocs"?`},
		{"unknown key swap", job("\"autsotart\": true"), "autsotart", 3, 3, `did you mean "autostart"?`},
		{"unknown key hint", job("\"environment\": {}"), "environment", 3, 3, `did you mean "env"?`},
		{"unknown key far", job("\"zzzzzz\": 1"), "zzzzzz", 3, 3, "unknown key (known keys: cmd, numprocs, umask,"},
		{"null value", job("\"numprocs\": null"), "numprocs", 3, 15, "expected an integer from 1 to 1024, got null"},

		// cmd.
		{"cmd empty", jobCmd(`""`), "cmd", 2, 10, `expected a command to run, got ""`},
		{"cmd blank", jobCmd(`" \t "`), "cmd", 2, 10, `expected a command to run, got " \t "`},
		{"cmd number", jobCmd(`42`), "cmd", 2, 10, "expected a command line (string) or a non-empty array of strings, got 42"},
		{"cmd null", jobCmd(`null`), "cmd", 2, 10, "got null"},
		{"cmd empty array", jobCmd(`[]`), "cmd", 2, 10, "got an empty array"},
		{"cmd array non-string", jobCmd(`["sleep", 10]`), "cmd", 2, 10, "element 2: expected a string, got 10"},
		{"cmd array empty program", jobCmd(`["", "x"]`), "cmd", 2, 10, "element 1, the program, is empty"},
		{"cmd empty program", jobCmd(`"'' x"`), "cmd", 2, 10, "the program name (the first word) is empty"},
		{"cmd NUL", jobCmd(`"a\u0000b"`), "cmd", 2, 10, "must not contain a NUL character"},
		{"cmd array NUL", jobCmd(`["a\u0000b"]`), "cmd", 2, 10, "element 1: \"a\\x00b\" must not contain a NUL"},
		{"cmd unterminated single", jobCmd(`"echo 'abc"`), "cmd", 2, 10, "unterminated single quote (the ' at character 6 is never closed)"},
		{"cmd unterminated double", jobCmd(`"echo \"abc"`), "cmd", 2, 10, `unterminated double quote (the " at character 6 is never closed)`},
		{"cmd pipe", jobCmd(`"cat log | grep x"`), "cmd", 2, 10, `unquoted '|' at character 9: cmd is not run by a shell`},
		{"cmd variable", jobCmd(`"echo $HOME"`), "cmd", 2, 10, `unquoted '$' at character 6`},
		{"cmd variable in double quotes", jobCmd(`"echo \"$HOME\""`), "cmd", 2, 10, `'$' at character 7 inside double quotes`},
		{"cmd glob", jobCmd(`"ls *.go"`), "cmd", 2, 10, `unquoted '*' at character 4`},
		{"cmd assignment", jobCmd(`"FOO=1 prog"`), "cmd", 2, 10, `"FOO=" at the start of cmd would set an environment variable`},
		{"cmd trailing backslash", jobCmd(`"echo \\"`), "cmd", 2, 10, "the backslash at character 6 escapes nothing"},

		// numprocs.
		{"numprocs negative", job(`"numprocs": -1`), "numprocs", 3, 15, "expected an integer from 1 to 1024, got -1"},
		{"numprocs zero", job(`"numprocs": 0`), "numprocs", 3, 15, "expected an integer from 1 to 1024, got 0"},
		{"numprocs too large", job(`"numprocs": 1025`), "numprocs", 3, 15, "got 1025"},
		{"numprocs fraction", job(`"numprocs": 1.5`), "numprocs", 3, 15, "got 1.5"},
		{"numprocs string", job(`"numprocs": "2"`), "numprocs", 3, 15, `got "2"`},
		{"numprocs huge", job(`"numprocs": 1e400`), "numprocs", 3, 15, "got 1e400"},
		{"procNr zero", job(`"procNr": 0`), "procNr", 3, 13, "expected an integer from 1 to 1024, got 0"},

		// umask.
		{"umask string 999", job(`"umask": "999"`), "umask", 3, 12, `expected an octal string like "022" (digits 0 to 7), got "999"`},
		{"umask number 18", job(`"umask": 18`), "umask", 3, 12, `the number 18 is not octal (it has the digit 8 or 9); write the umask as an octal string like "022"`},
		{"umask abc", job(`"umask": "abc"`), "umask", 3, 12, `got "abc"`},
		{"umask number too large", job(`"umask": 1000`), "umask", 3, 12, "expected a umask from 0 to 0777 (octal), got 1000"},
		{"umask string too large", job(`"umask": "0o1000"`), "umask", 3, 12, `got "0o1000"`},
		{"umask negative", job(`"umask": -2`), "umask", 3, 12, "got -2"},
		{"umask bool", job(`"umask": true`), "umask", 3, 12, `expected an octal string like "022" or a number like 22, got true`},

		// workingdir, env.
		{"workingdir number", job(`"workingdir": 1`), "workingdir", 3, 17, "got 1"},
		{"env string", job(`"env": "A=1"`), "env", 3, 10, `expected an object like {"NAME": "value"}, got "A=1"`},
		{"env name with =", job(`"env": {"A=B": "1"}`), "env", 3, 10, `variable name "A=B" must not contain "="`},
		{"env empty name", job(`"env": {"": "1"}`), "env", 3, 10, "a variable name is empty"},
		{"env number value", job(`"env": {"PORT": 80}`), "env", 3, 10, "variable PORT: expected a string value, got 80"},
		{"env duplicate", job(`"env": {"A": "1", "A": "2"}`), "env", 3, 10, "variable A is set twice"},
		{"env list extra key", job(`"env": [{"name": "A", "value": "1", "x": 1}]`), "env", 3, 10, `element 1: expected {"name": "NAME", "value": "value"}, got the key "x"`},
		{"env list missing value", job(`"env": [{"name": "A"}]`), "env", 3, 10, "with both keys once each"},
		{"env list duplicate", job(`"env": [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]`), "env", 3, 10, "element 2: variable A is set twice"},
		{"env list not object", job(`"env": ["A=1"]`), "env", 3, 10, `element 1: expected {"name": "NAME", "value": "value"}, got "A=1"`},

		// Booleans and policies.
		{"autostart string", job(`"autostart": "yes"`), "autostart", 3, 16, `expected true or false, got "yes"`},
		{"tty string", job(`"tty": "yes"`), "tty", 3, 10, `expected true or false, got "yes"`},
		{"tty with stderr", job("\"tty\": true,\n  \"stderr\": \"err.log\""), "stderr", 4, 3,
			`a job with "tty": true has one output stream, its terminal's, which goes where stdout says: remove stderr`},
		{"tty with stderr console", job("\"stderr\": \"console\", \"tty\": true"), "stderr", 3, 3, "remove stderr"},
		{"autoStart number", job(`"autoStart": 1`), "autoStart", 3, 16, "expected true or false, got 1"},
		{"critical string", job(`"critical": "true"`), "critical", 3, 15, `got "true"`},
		{"autorestart always", job(`"autorestart": "always"`), "autorestart", 3, 18, `expected false, true or "unexpected", got "always"`},
		{"leftovers unknown", job(`"leftovers": "kill"`), "leftovers", 3, 16, `expected "stop" or "keep", got "kill"`},
		{"leftovers case", job(`"leftovers": "Keep"`), "leftovers", 3, 16, `expected "stop" or "keep", got "Keep" (did you mean "keep"?)`},
		{"leftovers typo", job(`"leftovers": "stpo"`), "leftovers", 3, 16, `got "stpo" (did you mean "stop"?)`},
		{"leftovers bool", job(`"leftovers": true`), "leftovers", 3, 16, `expected "stop" or "keep", got true`},
		{"leftovers supervisord key", job(`"stopasgroup": true`), "stopasgroup", 3, 3, `unknown key (did you mean "leftovers"?)`},
		{"leftovers misspelt key", job(`"leftover": "keep"`), "leftover", 3, 3, `unknown key (did you mean "leftovers"?)`},
		{"restart 3", job(`"restart": 3`), "restart", 3, 14, "expected 0 (never), 1 (unexpected) or 2 (always), got 3"},
		{"exitcode 256", job(`"exitcodes": 256`), "exitcodes", 3, 16, "expected an integer from 0 to 255, got 256"},
		{"exitcodes list 256", job(`"exitcodes": [0, 256]`), "exitcodes", 3, 16, "element 2: expected an integer from 0 to 255, got 256"},
		{"exitcodes empty", job(`"exitcodes": []`), "exitcodes", 3, 16, "expected at least one exit code, got an empty list"},
		{"exitcodes string", job(`"exitcodes": "0"`), "exitcodes", 3, 16, `expected an exit code from 0 to 255 or a non-empty list of them, got "0"`},
		{"normalExitCode negative", job(`"normalExitCode": -1`), "normalExitCode", 3, 21, "got -1"},
		{"startretries too many", job(`"startretries": 1001`), "startretries", 3, 19, "expected an integer from 0 to 1000, got 1001"},
		{"starttime negative", job(`"starttime": -1`), "starttime", 3, 16, "expected a number of seconds from 0 to 86400 (fractions allowed, like 0.5), got -1"},
		{"starttime string", job(`"starttime": "1s"`), "starttime", 3, 16, `got "1s"`},
		{"stoptime too long", job(`"stoptime": 86401`), "stoptime", 3, 15, "got 86401"},
		{"stopTime negative", job(`"stopTime": -0.5`), "stopTime", 3, 15, "got -0.5"},

		// Signals.
		{"stopsignal unknown", job(`"stopsignal": "SIGFOO"`), "stopsignal", 3, 17,
			`unknown signal "SIGFOO" (expected a name like "TERM" or "SIGUSR1", "RTMIN+3", or a number 1-31/34-64)`},
		{"stopsignal STOP", job(`"stopsignal": "STOP"`), "stopsignal", 3, 17, "SIGSTOP suspends a process instead of ending it"},
		{"stopsignal 19", job(`"stopsignal": 19`), "stopsignal", 3, 17, "SIGSTOP suspends"},
		{"stopsignal 32", job(`"stopsignal": 32`), "stopsignal", 3, 17, "unknown signal 32"},
		{"stopsignal 0", job(`"stopsignal": 0`), "stopsignal", 3, 17, "unknown signal 0"},
		{"stopsignal 65", job(`"stopsignal": 65`), "stopsignal", 3, 17, "unknown signal 65"},
		{"stopsignal RTMIN+31", job(`"stopsignal": "RTMIN+31"`), "stopsignal", 3, 17, `unknown signal "RTMIN+31"`},
		{"stopsignal array", job(`"stopsignal": ["TERM"]`), "stopsignal", 3, 17, "expected a signal name or number, got an array"},
		{"stopSig unknown", job(`"stopSig": 99`), "stopSig", 3, 14, "unknown signal 99"},
		{"forwardsignals HUP", job(`"forwardsignals": ["USR2", "HUP"]`), "forwardsignals", 3, 21,
			"element 2: SIGHUP cannot be forwarded: taskmasterd reloads the job directory on it"},
		{"forwardsignals TERM", job(`"forwardsignals": ["sigterm"]`), "forwardsignals", 3, 21, "SIGTERM cannot be forwarded: taskmasterd shuts down"},
		{"forwardsignals CHLD", job(`"forwardsignals": [17]`), "forwardsignals", 3, 21, "SIGCHLD cannot be forwarded: taskmasterd uses it to reap"},
		{"forwardsignals PROF", job(`"forwardsignals": ["PROF"]`), "forwardsignals", 3, 21, "the Go runtime takes it"},
		{"forwardsignals KILL", job(`"forwardsignals": ["KILL"]`), "forwardsignals", 3, 21, "it cannot be caught"},
		{"forwardsignals USR1", job(`"forwardsignals": ["USR1"]`), "forwardsignals", 3, 21, "reopens its log files"},
		{"forwardsignals not list", job(`"forwardsignals": "USR2"`), "forwardsignals", 3, 21, `expected an array of signals, like ["USR2", "WINCH"], got "USR2"`},

		// Outputs and user.
		{"stdout number", job(`"stdout": 1`), "stdout", 3, 13, `expected "console", "discard" or a file path, got 1`},
		{"stderr NUL", job(`"stderr": "a\u0000"`), "stderr", 3, 13, "must not contain a NUL character"},
		{"unknown user", job(`"user": "no-such-user-xyz"`), "user", 3, 11, `unknown user "no-such-user-xyz" (no such name in /etc/passwd)`},
		{"unknown group", job(`"user": "root:no-such-group-xyz"`), "user", 3, 11, `unknown group "no-such-group-xyz"`},
		{"user without name", job(`"user": ":0"`), "user", 3, 11, `expected a user name or id before ":" in ":0"`},
		{"user without group", job(`"user": "root:"`), "user", 3, 11, `expected a group name or id after ":" in "root:"`},
		{"user id too large", job(`"user": 4294967295`), "user", 3, 11, "expected a user id from 0 to 4294967294 or a user name, got 4294967295"},
		{"user string id too large", job(`"user": "99999999999"`), "user", 3, 11, "user id 99999999999 is out of range"},
		{"user negative", job(`"user": -1`), "user", 3, 11, "got -1"},
		{"user bool", job(`"user": true`), "user", 3, 11, "got true"},
		{"runas unknown", job(`"runas": "no-such-user-xyz"`), "runas", 3, 12, "unknown user"},

		// depends_on.
		{"depends_on string", job(`"depends_on": "db"`), "depends_on", 3, 17, `expected an array of job names, like ["db", "cache"], got "db"`},
		{"depends_on bad name", job(`"depends_on": ["my db"]`), "depends_on", 3, 17, `element 1: invalid job name "my db": use 1 to 64 letters`},
		{"depends_on all", job(`"depends_on": ["all"]`), "depends_on", 3, 17, `"all" is reserved`},
		{"depends_on self", job(`"depends_on": ["db", "web"]`), "depends_on", 3, 17, `element 2: a job cannot depend on itself ("web")`},
		{"depends_on twice", job(`"depends_on": ["db", "db"]`), "depends_on", 3, 17, `element 2: "db" is listed twice`},
		{"depends_on number", job(`"depends_on": [1]`), "depends_on", 3, 17, "element 1: expected a job name, got 1"},
		{"$schema number", job(`"$schema": 1`), "$schema", 3, 14, "got 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse(testPath, []byte(tt.data))
			require.Nil(t, s)
			errs := flatten(err)
			require.Len(t, errs, 1, "errors: %v", err)
			e := errs[0]
			require.Equal(t, testPath, e.File)
			require.Equal(t, tt.key, e.Key)
			require.Equal(t, []int{tt.line, tt.col}, []int{e.Line, e.Col}, "position of %v", e)
			require.Contains(t, e.Msg, tt.msg)
		})
	}
}

func TestParseReportsEveryError(t *testing.T) {
	data := "{\n  \"numprocs\": 0,\n  \"umask\": 9,\n  \"nmprocs\": 1,\n  \"stopsignal\": \"FOO\"\n}"
	_, err := Parse("web.tm.json", []byte(data))
	want := strings.Join([]string{
		"web.tm.json:2:15: numprocs: expected an integer from 1 to 1024, got 0",
		`web.tm.json:3:12: umask: the number 9 is not octal (it has the digit 8 or 9); write the umask as an octal string like "022"`,
		`web.tm.json:4:3: "nmprocs": unknown key (did you mean "numprocs"?)`,
		`web.tm.json:5:17: stopsignal: unknown signal "FOO" (expected a name like "TERM" or "SIGUSR1", "RTMIN+3", or a number 1-31/34-64)`,
		"web.tm.json: cmd: required key is missing",
	}, "\n")
	require.EqualError(t, err, want)
	for _, e := range flatten(err) {
		var target *Error
		require.ErrorAs(t, e, &target)
	}
}

func TestParseTooLarge(t *testing.T) {
	data := `{"cmd": "x", "env": {"A": "` + strings.Repeat("a", MaxFileSize) + `"}}`
	_, err := Parse(testPath, []byte(data))
	require.EqualError(t, err, testPath+": the file is 1048606 bytes, more than the 1048576 bytes (1 MiB) a job file may hold")
}

func TestParseBadFileName(t *testing.T) {
	for _, path := range []string{"/jobs/all.tm.json", "/jobs/ALL.tm.json", "/jobs/a b.tm.json", "/jobs/web.json",
		"/jobs/.web.tm.json", "/jobs/-web.tm.json", "/jobs/" + strings.Repeat("a", 65) + ".tm.json"} {
		t.Run(path, func(t *testing.T) {
			_, err := Parse(path, []byte(`{"cmd": "x"}`))
			require.ErrorIs(t, err, ErrInvalidName)
			require.ErrorContains(t, err, path+": invalid job name")
		})
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{File: "a.tm.json", Line: 3, Col: 15, Key: "numprocs", Msg: "bad"}, "a.tm.json:3:15: numprocs: bad"},
		{Error{File: "a.tm.json", Key: "cmd", Msg: "bad"}, "a.tm.json: cmd: bad"},
		{Error{File: "a.tm.json", Line: 1, Col: 2, Msg: "bad"}, "a.tm.json:1:2: bad"},
		{Error{Line: 1, Col: 2, Key: "nmprocs", Msg: "bad"}, `1:2: "nmprocs": bad`},
		{Error{Key: "depends_on", Msg: "bad"}, "depends_on: bad"},
		{Error{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.err.Error())
	}
	cause := errors.New("cause")
	require.ErrorIs(t, &Error{Msg: "x", Err: cause}, cause)
}

func TestPosition(t *testing.T) {
	data := []byte("ab\nçé x\n")
	for _, tt := range []struct{ off, line, col int }{
		{0, 1, 1}, {2, 1, 3}, {3, 2, 1}, {7, 2, 3}, {8, 2, 4}, {len(data), 3, 1}, {100, 3, 1},
	} {
		line, col := position(data, tt.off)
		require.Equal(t, []int{tt.line, tt.col}, []int{line, col}, "offset %d", tt.off)
	}
}
