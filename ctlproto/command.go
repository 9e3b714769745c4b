package ctlproto

import "fmt"

// need says which request fields a command cannot do without.
type need uint8

const (
	needJob need = 1 << iota
	needData
)

// commandNeeds lists every command the server accepts. A command missing
// from it is answered invalid without reaching the Handler.
var commandNeeds = map[Command]need{
	CmdStart:    needJob,
	CmdStop:     needJob,
	CmdKill:     needJob,
	CmdRepair:   needJob,
	CmdStatus:   0,
	CmdPull:     needJob,
	CmdPush:     needJob | needData,
	CmdDelete:   needJob,
	CmdList:     0,
	CmdReload:   needJob,
	CmdRestart:  0,
	CmdTail:     needJob,
	CmdWait:     needJob | needData,
	CmdAgents:   0,
	CmdAttach:   needJob,
	CmdSignal:   needJob | needData,
	CmdShutdown: 0,
}

// streamOnly lists the messages that exist only inside a stream.
var streamOnly = map[Command]bool{CmdInput: true, CmdResize: true, CmdDetach: true}

// Known reports whether c is a command of the protocol or of its extensions.
func (c Command) Known() bool {
	_, ok := commandNeeds[c]
	return ok
}

// RequestError is a request the protocol cannot accept: malformed JSON or
// base64, an unknown command, a missing field. The Server answers it with
// invalid and Reason.
type RequestError struct {
	Reason string
}

// Error says what is wrong with the request.
func (e *RequestError) Error() string { return "invalid request: " + e.Reason }

func invalidf(format string, args ...any) error {
	return &RequestError{Reason: fmt.Sprintf(format, args...)}
}

// Validate checks that r names a known command and carries the fields that
// command needs. The error is a *RequestError.
func (r *Request) Validate() error {
	if r.Command == "" {
		return invalidf("missing command")
	}
	needs, ok := commandNeeds[r.Command]
	if !ok && streamOnly[r.Command] {
		return invalidf("%q is only valid in the stream an attach opened", r.Command)
	}
	if !ok {
		return invalidf("unknown command %q", r.Command)
	}
	if needs&needJob != 0 && r.Job == "" {
		return invalidf("%s needs a job", r.Command)
	}
	if needs&needData != 0 && len(r.Data) == 0 {
		return invalidf("%s needs data", r.Command)
	}
	return nil
}
