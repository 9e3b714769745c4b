package ctlproto

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		name, in string
		want     Request
	}{
		{"document example", `{"command":"kill","job":"bmdpbng="}`, Request{Command: CmdKill, Job: "nginx"}},
		{"document whitespace", "{\n\t\"command\" : \"kill\",\n\t\"job\" : \"bmdpbng=\"\n}\r\n", Request{Command: CmdKill, Job: "nginx"}},
		{"cmd alias, original client", `{"cmd":"kill","job":"bmdpbng=","data":""}`, Request{Command: CmdKill, Job: "nginx"}},
		{"cmd and command agree", `{"cmd":"kill","command":"kill","job":"bmdpbng="}`, Request{Command: CmdKill, Job: "nginx"}},
		{"empty command, cmd set", `{"command":"","cmd":"list"}`, Request{Command: CmdList}},
		{"unpadded base64", `{"command":"kill","job":"bmdpbng"}`, Request{Command: CmdKill, Job: "nginx"}},
		{"escaped slash", `{"cmd":"push","job":"Pz8\/","data":"Pz8\/Pz8\/"}`, Request{Command: CmdPush, Job: "???", Data: []byte("??????")}},
		{"unicode escape", `{"command":"st\u0061rt","job":"YQ=="}`, Request{Command: CmdStart, Job: "a"}},
		{"status without job", `{"command":"status"}`, Request{Command: CmdStatus}},
		{"status empty job", `{"command":"status","job":"","data":""}`, Request{Command: CmdStatus}},
		{"null fields", `{"command":"list","job":null,"data":null}`, Request{Command: CmdList}},
		{"unknown keys ignored", `{"command":"list","verbose":true,"x":[1,2]}`, Request{Command: CmdList}},
		{"token", `{"command":"list","token":"s3cret"}`, Request{Command: CmdList, Token: "s3cret"}},
		{"semicolons in data", `{"command":"push","job":"YQ==","data":"Ozs7"}`, Request{Command: CmdPush, Job: "a", Data: []byte(";;;")}},
		{"tail without data", `{"command":"tail","job":"YQ=="}`, Request{Command: CmdTail, Job: "a"}},
		{"wait", `{"command":"wait","job":"YQ==","data":"e30="}`, Request{Command: CmdWait, Job: "a", Data: []byte("{}")}},
		{"restart", `{"cmd":"restart","job":"","data":""}`, Request{Command: CmdRestart}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRequest([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, *got)
		})
	}
}

func TestDecodeRequestInvalid(t *testing.T) {
	tests := []struct{ name, in, reason string }{
		{"malformed JSON", `{"command":"kill",`, "malformed JSON"},
		{"not an object", `["kill"]`, "malformed JSON"},
		{"two objects", `{"command":"list"}{"command":"list"}`, "malformed JSON"},
		{"null", `null`, "missing command"},
		{"no command", `{"job":"YQ=="}`, "missing command"},
		{"unknown command", `{"command":"frobnicate"}`, `unknown command "frobnicate"`},
		{"wrong case", `{"command":"KILL","job":"YQ=="}`, `unknown command "KILL"`},
		{"command and cmd differ", `{"command":"start","cmd":"stop","job":"YQ=="}`, `differ`},
		{"command not a string", `{"command":5}`, `"command" is not a string`},
		{"job not a string", `{"command":"kill","job":["a"]}`, `"job" is not a string`},
		{"data not a string", `{"command":"push","job":"YQ==","data":{}}`, `"data" is not a string`},
		{"token not a string", `{"command":"list","token":1}`, `"token" is not a string`},
		{"bad base64 job", `{"command":"kill","job":"!!!"}`, `"job" is not base64`},
		{"bad base64 data", `{"command":"push","job":"YQ==","data":"YQ=x"}`, `"data" is not base64`},
		{"missing job", `{"command":"kill"}`, "kill needs a job"},
		{"empty job", `{"command":"start","job":"","data":""}`, "start needs a job"},
		{"push without data", `{"command":"push","job":"YQ=="}`, "push needs data"},
		{"push with empty data", `{"command":"push","job":"YQ==","data":""}`, "push needs data"},
		{"wait without data", `{"command":"wait","job":"YQ=="}`, "wait needs data"},
		{"duplicate command", `{"command":"list","command":"kill","job":"YQ=="}`, `duplicate key "command"`},
		{"duplicate command, same value", `{"command":"list","command":"list"}`, `duplicate key "command"`},
		{"duplicate cmd", `{"cmd":"list","job":"","data":"","cmd":"kill"}`, `duplicate key "cmd"`},
		{"duplicate cmd beside command", `{"command":"kill","cmd":"kill","cmd":"start","job":"YQ=="}`, `duplicate key "cmd"`},
		{"duplicate job", `{"command":"kill","job":"YQ==","job":"Yg=="}`, `duplicate key "job"`},
		{"duplicate data", `{"command":"push","job":"YQ==","data":"YQ==","data":"Yg=="}`, `duplicate key "data"`},
		{"duplicate token", `{"command":"list","token":"a","token":"b"}`, `duplicate key "token"`},
		{"duplicate unknown key", `{"command":"list","x":1,"x":2}`, `duplicate key "x"`},
		{"duplicate through an escape", `{"command":"list","comm\u0061nd":"kill","job":"YQ=="}`, `duplicate key "command"`},
		{"malformed JSON wins over a duplicate", `{"command":"list","command":"kill"`, "malformed JSON"},
		{"trailing comma", `{"command":"list",}`, "malformed JSON"},
		{"not an object: string", `"list"`, "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(tt.in))
			var rerr *RequestError
			require.True(t, errors.As(err, &rerr), "err = %v", err)
			require.Contains(t, rerr.Reason, tt.reason)
		})
	}
}

func TestAppendRequest(t *testing.T) {
	got := AppendRequest(nil, &Request{Command: CmdKill, Job: "nginx"})
	require.Equal(t, `{"command":"kill","job":"bmdpbng=","data":""};;`, string(got))

	got = AppendRequest(nil, &Request{Command: CmdPush, Job: "??/", Data: []byte("x"), Token: `a"b`})
	require.Equal(t, `{"command":"push","job":"Pz8v","data":"eA==","token":"a\"b"};;`, string(got))
}

func TestRequestRoundTrip(t *testing.T) {
	for _, req := range []Request{
		{Command: CmdList},
		{Command: CmdStatus, Job: "web"},
		{Command: CmdPush, Job: "with/slash", Data: []byte{0, 1, 2, 0xff, ';', ';'}},
		{Command: CmdKill, Job: "\x00\xff;;\"", Token: "tøken;;"},
		{Command: CmdWait, Job: "a", Data: []byte(`{"state":"running"}`)},
	} {
		wire := AppendRequest(nil, &req)
		frames, err := readFrames(bytesReader(wire), 0)
		require.Len(t, frames, 1, "%q: %v", wire, err)
		got, err := DecodeRequest([]byte(frames[0]))
		require.NoError(t, err)
		require.Equal(t, req, *got)
	}
}

func TestBase64Variants(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 4, 5, 31} {
		raw := make([]byte, n)
		for i := range raw {
			raw[i] = byte(i*37 + 250)
		}
		padded := b64(string(raw))
		got, err := decodeBase64([]byte(padded))
		require.NoError(t, err)
		require.Equal(t, raw, append([]byte{}, got...))
		unpadded := padded
		for len(unpadded) > 0 && unpadded[len(unpadded)-1] == '=' {
			unpadded = unpadded[:len(unpadded)-1]
		}
		got, err = decodeBase64([]byte(unpadded))
		require.NoError(t, err)
		require.Equal(t, raw, append([]byte{}, got...))
	}
	_, err := decodeBase64([]byte("a"))
	require.Error(t, err)
	_, err = decodeBase64([]byte("-_-_"))
	require.Error(t, err, "URL alphabet is not accepted")
}

// plainString takes a string as it stands only when its bytes are its
// value: any escape or byte outside printable ASCII goes to encoding/json.
func TestPlainString(t *testing.T) {
	for raw, want := range map[string]string{`"Pz8/"`: "Pz8/", `""`: "", `"a b=+"`: "a b=+"} {
		got, ok := plainString([]byte(raw))
		require.True(t, ok, raw)
		require.Equal(t, want, string(got))
	}
	for _, raw := range []string{`"Pz8\/"`, `"\u0061"`, "\"a\tb\"", "\"\xc3\xa9\"", `"a`, `1`, `"`, `null`} {
		_, ok := plainString([]byte(raw))
		require.False(t, ok, raw)
	}
}
