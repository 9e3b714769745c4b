package ctlproto

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Every command and every response kind, as raw bytes over real TCP.
func TestServerConformance(t *testing.T) {
	leakCheck(t)
	h := &fakeHandler{}
	c := dialRaw(t, startServer(t, &Server{Handler: h}))
	list := string(EncodeJobList([]string{"nginx", "apache2"}))
	file := `{"cmd":"/bin/true"}`
	tests := []struct{ name, send, want string }{
		{"kill", `{"command":"kill","job":"bmdpbng="};;`, `{"response":"success"};;`},
		{"kill stopped", `{"command":"kill","job":"` + b64("stopped") + `"};;`, `{"response":"redundant"};;`},
		{"stop", `{"cmd":"stop","job":"bmdpbng=","data":""};;`, `{"response":"success"};;`},
		{"stop stopped", `{"cmd":"stop","job":"` + b64("stopped") + `","data":""};;`, `{"response":"redundant"};;`},
		{"start", `{"command":"start","job":"bmdpbng="};;`, `{"response":"success"};;`},
		{"start running", `{"command":"start","job":"` + b64("running") + `"};;`, `{"response":"redundant"};;`},
		{"start fails", `{"command":"start","job":"` + b64("missing") + `"};;`, `{"response":"fail","error":"` + b64(`no such job "missing"`) + `"};;`},
		{"repair", `{"command":"repair","job":"bmdpbng="};;`, `{"response":"success"};;`},
		{"status one", `{"command":"status","job":"bmdpbng="};;`, `{"response":"status","data":"` + b64(`{"job":"nginx"}`) + `"};;`},
		{"status all", `{"command":"status"};;`, `{"response":"status","data":"` + b64(`{"job":""}`) + `"};;`},
		{"pull", `{"command":"pull","job":"bmdpbng="};;`, `{"response":"file","job":"bmdpbng=","data":"` + b64(file) + `"};;`},
		{"push", `{"command":"push","job":"bmdpbng=","data":"` + b64(file) + `"};;`, `{"response":"success"};;`},
		{"push invalid file", `{"command":"push","job":"bmdpbng=","data":"` + b64("bad") + `"};;`, `{"response":"fail","error":"` + b64("bad job file") + `"};;`},
		{"delete", `{"command":"delete","job":"bmdpbng="};;`, `{"response":"success"};;`},
		{"delete fails", `{"command":"delete","job":"` + b64("missing") + `"};;`, `{"response":"fail","error":"` + b64(`no such job "missing"`) + `"};;`},
		{"list", `{"command":"list"};;`, `{"response":"list","data":"` + b64(list) + `","list":"` + b64(list) + `"};;`},
		{"reload", `{"command":"reload","job":"bmdpbng="};;`, `{"response":"success"};;`},
		{"restart", `{"cmd":"restart","job":"","data":""};;`, `{"response":"success"};;`},
		{"tail", `{"command":"tail","job":"bmdpbng="};;`, `{"response":"file","job":"bmdpbng=","data":"` + b64(file) + `"};;`},
		{"wait", `{"command":"wait","job":"bmdpbng=","data":"e30="};;`, `{"response":"success"};;`},
		{"document whitespace", "{\r\n\t\"command\" : \"kill\",\r\n\t\"job\" : \"bmdpbng=\"\r\n}\r\n;;\r\n", `{"response":"success"};;`},
		{"escaped slash", `{"cmd":"pull","job":"Pz8\/","data":""};;`, `{"response":"file","job":"Pz8/","data":"` + b64(file) + `"};;`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, exchange(t, c, tt.send))
		})
	}
	require.Len(t, h.requests(), len(tests))
}

// Invalid requests are answered invalid, never reach the Handler, and leave
// the connection usable.
func TestServerInvalid(t *testing.T) {
	leakCheck(t)
	h := &fakeHandler{}
	c := dialRaw(t, startServer(t, &Server{Handler: h}))
	tests := []struct{ name, send, reason string }{
		{"malformed JSON", `{"command":"kill",;;`, ""},
		{"garbage", `hello;;`, ""},
		{"bad base64", `{"command":"kill","job":"%%%"};;`, ""},
		{"unknown command", `{"command":"frobnicate"};;`, `unknown command "frobnicate"`},
		{"missing command", `{"job":"bmdpbng="};;`, "missing command"},
		{"missing job", `{"command":"kill"};;`, "kill needs a job"},
		{"empty job", `{"cmd":"start","job":"","data":""};;`, "start needs a job"},
		{"push without data", `{"command":"push","job":"bmdpbng="};;`, "push needs data"},
		{"non-string job", `{"command":"kill","job":5};;`, `"job" is not a string`},
		{"duplicate command", `{"command":"list","command":"kill","job":"bmdpbng="};;`, `duplicate key "command"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := exchange(t, c, tt.send)
			require.True(t, strings.HasPrefix(got, `{"response":"invalid","error":"`), got)
			resp, err := DecodeResponse([]byte(strings.TrimSuffix(got, ";;")))
			require.NoError(t, err)
			require.Contains(t, resp.Error, tt.reason)
			require.Equal(t, `{"response":"success"};;`, exchange(t, c, `{"command":"kill","job":"bmdpbng="};;`))
		})
	}
	require.Len(t, h.requests(), len(tests), "only the follow-up kills reach the handler")
	for _, req := range h.requests() {
		require.Equal(t, CmdKill, req.Command)
	}
}

// Pipelined queries, sent in one write, are answered in order even when the
// first takes longest.
func TestServerPipelined(t *testing.T) {
	leakCheck(t)
	h := &fakeHandler{delay: func(req *Request) time.Duration {
		return time.Duration(len("xxxx")-len(req.Job)) * 20 * time.Millisecond
	}}
	c := dialRaw(t, startServer(t, &Server{Handler: h}))
	send := `{"command":"pull","job":"` + b64("a") + `"};;` + "\r\n" +
		`{"command":"pull","job":"` + b64("bb") + `"};;` +
		`{"command":"frobnicate"};;` +
		`{"command":"pull","job":"` + b64("ccc") + `"};;`
	_, err := c.Write([]byte(send))
	require.NoError(t, err)
	for _, job := range []string{"a", "bb", "", "ccc"} {
		got := readReply(t, c)
		if job == "" {
			require.Contains(t, got, `"invalid"`)
			continue
		}
		require.Contains(t, got, `"job":"`+b64(job)+`"`)
	}
}

// A message trickling in one byte per write is assembled correctly.
func TestServerOneByteWrites(t *testing.T) {
	leakCheck(t)
	c := dialRaw(t, startServer(t, &Server{Handler: &fakeHandler{}}))
	msg := `{"command":"status","job":"` + b64("a;;b") + `"};;`
	for i := range len(msg) {
		_, err := c.Write([]byte{msg[i]})
		require.NoError(t, err)
	}
	require.Equal(t, `{"response":"status","data":"`+b64(`{"job":"a;;b"}`)+`"};;`, readReply(t, c))
}

// A panicking Handler costs one fail reply, not the daemon.
func TestServerHandlerPanic(t *testing.T) {
	leakCheck(t)
	var logs logBuffer
	addr := startServer(t, &Server{Handler: &fakeHandler{}, Logger: newLogger(&logs)})
	c := dialRaw(t, addr)
	boom := `{"command":"start","job":"` + b64("boom") + `"};;`
	require.Equal(t, `{"response":"fail","error":"`+b64("internal error")+`"};;`, exchange(t, c, boom))
	require.Equal(t, `{"response":"success"};;`, exchange(t, c, `{"command":"start","job":"YQ=="};;`))
	require.Equal(t, `{"response":"success"};;`, exchange(t, dialRaw(t, addr), `{"command":"start","job":"YQ=="};;`))
	require.Contains(t, logs.String(), "control handler panicked")
}

func TestServerNilResponse(t *testing.T) {
	leakCheck(t)
	h := HandlerFunc(func(ctx context.Context, req *Request) *Response { return nil })
	c := dialRaw(t, startServer(t, &Server{Handler: h}))
	require.Equal(t, `{"response":"fail","error":"`+b64("internal error")+`"};;`, exchange(t, c, `{"command":"list"};;`))
}
