// Package jsonx is the one seam between taskmaster's hot JSON paths and a
// JSON library: the live link's events and responses, the status reply of
// the control protocol, and taskmasterctl's reading of it and its -json
// output.
//
// The default build uses encoding/json. Built with -tags goccy, it uses
// github.com/goccy/go-json, which decodes the status reply of 200
// processes about 10x faster and encodes it about 2x faster (the
// benchmarks beside the callers: BenchmarkStatusEncode in control,
// BenchmarkStatusDecode in ctl, BenchmarkJobUpdateEncode in link), but
// adds about 2.1 MB to taskmasterd and 2.2 MB to taskmasterctl: more than
// the binary budgets of docs/benchmarks.md leave (taskmasterd under 12 MB,
// the image under 15 MB). docs/benchmarks.md says what each costs.
//
// The control protocol's request codec (package ctlproto) and the job
// file reader (jobs/jobfile) stay on encoding/json whatever the tag: the
// first reads objects token by token to refuse duplicate keys, the second
// reports errors by line and column from encoding/json's offsets.
package jsonx

// Marshal returns the JSON encoding of v, as encoding/json.Marshal.
func Marshal(v any) ([]byte, error) { return marshal(v) }

// Unmarshal decodes data into v, as encoding/json.Unmarshal.
func Unmarshal(data []byte, v any) error { return unmarshal(data, v) }

// Library names the library in use: "encoding/json" or "goccy/go-json".
const Library = library
