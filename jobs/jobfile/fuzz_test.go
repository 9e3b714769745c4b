package jobfile

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, returns either a spec or an
// error, and that every problem it reports is an *Error.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		`{"cmd": "sleep 1"}`,
		`{"cmd": ["a", "b"], "numprocs": 2, "umask": "022", "env": {"A": "1"}}`,
		`{"cmd": "a 'b c' \"d\\\"e\"", "stopsignal": "RTMIN+3", "forwardsignals": ["USR2"]}`,
		`{"cmd":"printenv","procNr":1,"restart":0,"env":[{"name":"T","value":"v"}],"dir":"./env","umask":"0111"}`,
		`{"nmprocs": 1, "cmd": 1, "cmd": 2}`,
		"{\n  \"cmd\": \"x\",\n}",
		`[1]`, ``, `{} x`, `{"user": "0:0", "cmd": "x"}`,
		`{"cmd": "x", "ready": {"http": "http://127.0.0.1:8080/", "status": [200, 399], "deadline": 0}}`,
		`{"cmd": "x", "ready": {"notify": true, "watchdog_sec": 1}, "health": {"exec": "check -q", "retries": 2, "on_unhealthy": "ignore"}}`,
		`{"cmd": "x", "health": {"tcp": "[::1]:80", "tcp": "a:1", "interval": 0}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(testPath, data)
		if (s == nil) == (err == nil) {
			t.Fatalf("spec %v and error %v", s, err)
		}
		if err == nil {
			return
		}
		var one *Error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				if !errors.As(e, &one) {
					t.Fatalf("%T is not an *Error: %v", e, e)
				}
			}
		} else if !errors.As(err, &one) {
			t.Fatalf("%T is not an *Error: %v", err, err)
		}
	})
}
