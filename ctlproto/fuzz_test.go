package ctlproto

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// fuzzMax is the message limit of FuzzDecode: small, so that the fuzzer
// reaches it often.
const fuzzMax = 4096

// FuzzDecode feeds arbitrary streams to the frame splitter and the request
// decoder. Nothing may panic, no frame may exceed the limit, the splitter's
// buffer stays bounded, and every request that decodes must survive a
// round trip through AppendRequest unchanged.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"command":"kill","job":"bmdpbng="};;`,
		`{"cmd":"push","job":"Pz8\/","data":"Pz8\/","token":"t"};;`,
		"\r\n{\n\t\"command\" : \"status\"\n}\r\n;;\r\n{\"command\":\"list\"};;",
		`{"command":"status","job":"YTs7Yg"};;{"command":"tail","job":"YQ==","data":";;"};;`,
		`{"command":"st\u0061rt","job":"\u0059\u0051=="};;`,
		`{"command":"wait","job":"YQ==","data":"e30="};;`,
		`{"command":"kill","job":"\"};;`,
		`;;;;; ;; {} ;;null;;[];;"x";;`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fr := NewFrameReader(bytes.NewReader(in), fuzzMax)
		for {
			frame, err := fr.Next()
			if cap(fr.buf) > 2*fuzzMax+64 {
				t.Fatalf("frame buffer grew to %d bytes", cap(fr.buf))
			}
			if err != nil {
				checkStreamEnd(t, err)
				return
			}
			if len(frame) > fuzzMax {
				t.Fatalf("frame of %d bytes passed a %d limit", len(frame), fuzzMax)
			}
			checkRoundTrip(t, frame)
		}
	})
}

func checkStreamEnd(t *testing.T, err error) {
	if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMessageTooLarge) {
		t.Fatalf("unexpected stream error %v", err)
	}
}

func checkRoundTrip(t *testing.T, frame []byte) {
	req, err := DecodeRequest(frame)
	if err != nil {
		var rerr *RequestError
		if !errors.As(err, &rerr) {
			t.Fatalf("decode error %v is not a *RequestError", err)
		}
		return
	}
	wire := AppendRequest(nil, req)
	again, err := NewFrameReader(bytes.NewReader(wire), len(wire)).Next()
	if err != nil {
		t.Fatalf("re-encoded %q does not frame: %v", wire, err)
	}
	back, err := DecodeRequest(again)
	if err != nil {
		t.Fatalf("re-encoded %q does not decode: %v", wire, err)
	}
	if back.Command != req.Command || back.Job != req.Job || back.Token != req.Token || !bytes.Equal(back.Data, req.Data) {
		t.Fatalf("round trip changed %+v into %+v", req, back)
	}
}
