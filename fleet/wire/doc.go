// Package wire frames the messages of the fleet link (seed 004): each
// message is one protobuf fleetpb.Message, preceded by its length as 4
// bytes big-endian, at most MaxMessage bytes. It knows nothing of TLS, of
// the handshake or of what the messages mean: package fleet does.
package wire
