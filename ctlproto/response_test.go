package ctlproto

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func TestAppendResponse(t *testing.T) {
	list := []byte(`{"jobs":[{"name":"nginx"}]}`)
	tests := []struct {
		name string
		resp *Response
		want string
	}{
		{"document fail example", Failf("Invalid job name."), `{"response":"fail","error":"SW52YWxpZCBqb2IgbmFtZS4="};;`},
		{"fail from error", Fail(errors.New("Invalid job name.")), `{"response":"fail","error":"SW52YWxpZCBqb2IgbmFtZS4="};;`},
		{"fail nil error", Fail(nil), `{"response":"fail","error":"` + b64("unknown error") + `"};;`},
		{"success", Success(), `{"response":"success"};;`},
		{"success ignores stray fields", &Response{Kind: KindSuccess, Job: "x", Data: []byte("y"), Error: "z"}, `{"response":"success"};;`},
		{"redundant", Redundant(), `{"response":"redundant"};;`},
		{"invalid with reason", Invalid("missing command"), `{"response":"invalid","error":"` + b64("missing command") + `"};;`},
		{"invalid bare", Invalid(""), `{"response":"invalid"};;`},
		{"status", Status([]byte(`{}`)), `{"response":"status","data":"e30="};;`},
		{"status empty", Status(nil), `{"response":"status","data":""};;`},
		{"file", File("nginx", []byte("{}")), `{"response":"file","job":"bmdpbng=","data":"e30="};;`},
		{"list in data and list", List(list), `{"response":"list","data":"` + b64(string(list)) + `","list":"` + b64(string(list)) + `"};;`},
		{"unknown kind keeps fields", &Response{Kind: "later", Job: "a", Error: "b"}, `{"response":"later","job":"YQ==","error":"Yg=="};;`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, string(AppendResponse(nil, tt.resp)))
		})
	}
}

func TestDecodeResponse(t *testing.T) {
	tests := []struct {
		name, in string
		want     Response
	}{
		{"fail", `{"response":"fail","error":"SW52YWxpZCBqb2IgbmFtZS4="}`, Response{Kind: KindFail, Error: "Invalid job name."}},
		{"whitespace", "\r\n{ \"response\" : \"success\" }\r\n", Response{Kind: KindSuccess}},
		{"list under list only", `{"response":"list","list":"e30="}`, Response{Kind: KindList, Data: []byte("{}")}},
		{"list under data first", `{"response":"list","data":"e30=","list":"W10="}`, Response{Kind: KindList, Data: []byte("{}")}},
		{"list beside data is not read", `{"response":"list","data":"e30=","list":"not base64!"}`, Response{Kind: KindList, Data: []byte("{}")}},
		{"escaped slash", `{"response":"file","job":"Pz8\/","data":"Pz8\/"}`, Response{Kind: KindFile, Job: "???", Data: []byte("???")}},
		{"unknown keys", `{"response":"success","extra":1}`, Response{Kind: KindSuccess}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeResponse([]byte(tt.in))
			require.NoError(t, err)
			require.Equal(t, tt.want, *got)
		})
	}
	for _, bad := range []string{`{}`, `{"response":1}`, `nope`, `{"response":"file","data":"%%%"}`} {
		_, err := DecodeResponse([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestResponseRoundTrip(t *testing.T) {
	for _, resp := range []*Response{
		Success(), Redundant(), Failf("x;;y"), Invalid("why"), Status([]byte{0, 255}),
		File("a/b", []byte("{}")), List(EncodeJobList([]string{"a", "b"})),
	} {
		wire := AppendResponse(nil, resp)
		frames, err := readFrames(bytesReader(wire), 0)
		require.Len(t, frames, 1, "%q: %v", wire, err)
		got, err := DecodeResponse([]byte(frames[0]))
		require.NoError(t, err)
		require.Equal(t, resp, got)
	}
}

func TestJobList(t *testing.T) {
	data := EncodeJobList([]string{"nginx", "apache2"})
	require.Equal(t, `{"jobs":[{"name":"nginx"},{"name":"apache2"}],"processes":[{"name":"nginx"},{"name":"apache2"}]}`, string(data))
	require.Equal(t, `{"jobs":[],"processes":[]}`, string(EncodeJobList(nil)))

	for _, in := range []string{string(data), `{"processes":[{"name":"nginx"},{"name":"apache2"}]}`, `{"jobs":[{"name":"nginx"},{"name":"apache2"}]}`} {
		names, err := DecodeJobList([]byte(in))
		require.NoError(t, err)
		require.Equal(t, []string{"nginx", "apache2"}, names)
	}
	_, err := DecodeJobList([]byte(`{}`))
	require.Error(t, err)
}
