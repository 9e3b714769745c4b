package ctlproto

import (
	"context"
	"net"
	"testing"
)

func BenchmarkDecodeRequest(b *testing.B) {
	frame := []byte(`{"cmd":"push","job":"bmdpbng=","data":"` + b64(`{"cmd":"nginx -g 'daemon off;'","numprocs":1,"autostart":true}`) + `"}`)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRequest(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendResponse(b *testing.B) {
	resp := Status([]byte(`{"jobs":[{"name":"nginx","state":"running"}]}`))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendResponse(buf[:0], resp)
	}
}

// BenchmarkRoundTrip measures one request and its reply over loopback TCP.
func BenchmarkRoundTrip(b *testing.B) {
	s := &Server{Handler: HandlerFunc(func(context.Context, *Request) *Response { return Success() })}
	l := mustListen(b)
	go s.Serve(l)
	defer s.Shutdown(context.Background())
	ctx := context.Background()
	c, err := Dial(ctx, l.Addr().String(), "")
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	req := &Request{Command: CmdStart, Job: "nginx"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Do(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPeerUID compares the two ways of finding who owns the other end
// of a loopback connection: the kernel's socket diagnostics (one socket,
// by its addresses) and the /proc/net tables (every TCP socket, printed).
func BenchmarkPeerUID(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close()
	local, _ := addrPort(server.LocalAddr())
	remote, _ := addrPort(server.RemoteAddr())
	b.Run("sockdiag", func(b *testing.B) {
		for b.Loop() {
			if _, found, err := diagSocketUID(remote, local); err != nil || !found {
				b.Fatal("not found", err)
			}
		}
	})
	b.Run("procnet", func(b *testing.B) {
		for b.Loop() {
			if _, found := procPeerUID(local, remote); !found {
				b.Fatal("not found")
			}
		}
	})
}

// BenchmarkDecodeResponseStatus decodes the envelope of a status reply of
// 200 processes, as taskmasterctl reads it: most of its bytes are the
// base64 of the status JSON.
func BenchmarkDecodeResponseStatus(b *testing.B) {
	var status []byte
	status = append(status, `{"jobs":[`...)
	for i := range 200 {
		if i > 0 {
			status = append(status, ',')
		}
		status = append(status, `{"name":"s01","instances":[{"name":"s01:0","state":"RUNNING","pid":19476,"uptime_ms":123456,"restarts":0}]}`...)
	}
	status = append(status, `]}`...)
	frame := AppendResponse(nil, Status(status))
	frame = frame[:len(frame)-2] // the ";;"
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeResponse(frame); err != nil {
			b.Fatal(err)
		}
	}
}
