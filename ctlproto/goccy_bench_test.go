package ctlproto

import (
	"bytes"
	"testing"

	gojson "github.com/goccy/go-json"
)

// goccyMembers is parseObject's reading of an object, token by token so
// that a duplicate key is seen, with goccy/go-json: only for the
// comparison of BenchmarkDecodeRequestLibraries.
func goccyMembers(frame []byte) (map[string]gojson.RawMessage, error) {
	dec := gojson.NewDecoder(bytes.NewReader(frame))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	obj := map[string]gojson.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var raw gojson.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		obj[tok.(string)] = raw
	}
	_, err := dec.Token()
	return obj, err
}

// BenchmarkDecodeRequestLibraries compares the two JSON libraries on the
// part of DecodeRequest that is JSON: reading the request object's
// members token by token, as the duplicate-key check needs.
func BenchmarkDecodeRequestLibraries(b *testing.B) {
	frame := []byte(`{"cmd":"push","job":"bmdpbng=","data":"` + b64(`{"cmd":"nginx -g 'daemon off;'","numprocs":1,"autostart":true}`) + `"}`)
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseObject(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("goccy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := goccyMembers(frame); err != nil {
				b.Fatal(err)
			}
		}
	})
}
