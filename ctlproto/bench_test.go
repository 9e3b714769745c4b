package ctlproto

import (
	"context"
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
