// Package jsonxbench benchmarks the two JSON libraries that internal/jsonx
// can be built on, side by side on the same value, for the benchmarks of
// the packages whose messages are hot. It is apart from jsonx so that no
// program links the testing package.
package jsonxbench

import (
	"encoding/json"
	"testing"

	gojson "github.com/goccy/go-json"
)

// Marshal runs one sub-benchmark per library encoding v, after checking
// that goccy's bytes are encoding/json's.
func Marshal(b *testing.B, v any) {
	libs := map[string]func(any) ([]byte, error){"encoding-json": json.Marshal, "goccy": gojson.Marshal}
	want, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"encoding-json", "goccy"} {
		marshal := libs[name]
		b.Run(name, func(b *testing.B) {
			if got, err := marshal(v); err != nil || string(got) != string(want) {
				b.Fatalf("%s differs from encoding/json: %v\n%s", name, err, got)
			}
			b.SetBytes(int64(len(want)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := marshal(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
