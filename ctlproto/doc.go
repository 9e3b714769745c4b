// Package ctlproto implements the Taskmaster control protocol spoken between
// taskmasterctl and taskmasterd: JSON objects over TCP, each followed by
// ";;", with base64 "job", "data", "list" and "error" values.
//
// The package holds the codec (FrameReader, DecodeRequest, AppendResponse
// and friends), a Server that hands each valid request to a Handler, and a
// Client. A reply may turn its connection into a Stream of messages both
// ways, in the same framing (Response.Stream, Client.Open): that is how an
// attach session travels. It knows nothing of processes or jobs: the meaning of a command is
// the Handler's business. docs/protocol.md is the reference for the wire
// format, including the extensions this package adds.
//
// Reading is liberal, because the original taskmasterctl does not follow its
// own document (it sends "cmd" instead of "command" and escapes "/" as
// "\/"); writing is strict: no whitespace, fixed key order, padded base64.
package ctlproto
