package link

import (
	"encoding/json"
	"fmt"
)

// ProtocolVersion is the version of the link protocol taskmasterd speaks.
// A client whose major version differs is refused.
const ProtocolVersion = "1.0.0"

// Message types of the handshake and of closing.
const (
	TypeHello           = "hello"
	TypeRegisterControl = "register_control"
	TypeRegisterSlave   = "register_slave"
	TypeReady           = "ready"
	TypeClose           = "close"
)

// Event types, sent by taskmasterd to every registered control.
const (
	TypeJobUpdate = "job_update_event"
	TypeJobFile   = "job_file_event"
	TypeOutput    = "output_event"
	TypeShutdown  = "shutdown_event"
	// TypeEventsLost says that the client fell behind and events were
	// dropped; a TypeJobsSnapshot with every job follows, then events go on.
	TypeEventsLost   = "events_lost_event"
	TypeJobsSnapshot = "jobs_snapshot_event"
)

// Message is one message of the link.
type Message struct {
	Seq  int64           `json:"seq"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// decodeMessage reads one message. Every message is a JSON object with a
// type; seq and data may be absent (data then reads as {}).
func decodeMessage(b []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("invalid JSON: %v", err)
	}
	if m.Type == "" {
		return nil, fmt.Errorf("a message needs a \"type\"")
	}
	if len(m.Data) == 0 || string(m.Data) == "null" {
		m.Data = json.RawMessage("{}")
	}
	return &m, nil
}

// Hello is the data of hello, the server's first message.
type Hello struct {
	Version       string `json:"version"`        // ProtocolVersion
	Server        string `json:"server"`         // "taskmasterd"
	BuildVersion  string `json:"build_version"`  // taskmasterd's own version
	TokenRequired bool   `json:"token_required"` // register_control must carry the token
}

// Register is the data of register_control and register_slave.
type Register struct {
	Token   string `json:"token"`
	Agent   string `json:"agent"`
	Version string `json:"version"`
	Name    string `json:"name,omitempty"` // register_slave
	ID      any    `json:"id,omitempty"`   // register_slave
}

// Close is the data of close.
type Close struct {
	Reason string `json:"reason"`
}

// errorData is the data of a response to a request that failed.
type errorData struct {
	Seq   int64  `json:"seq"`
	Error string `json:"error"`
}
