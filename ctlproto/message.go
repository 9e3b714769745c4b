package ctlproto

import (
	"context"
	"errors"
	"fmt"
)

// Command names the operation a Request asks for.
type Command string

// The commands of the protocol document.
const (
	CmdStart   Command = "start"   // start a job; needs Job
	CmdStop    Command = "stop"    // stop a job; needs Job
	CmdKill    Command = "kill"    // kill a job; needs Job
	CmdRepair  Command = "repair"  // reset a job to its default state; needs Job
	CmdStatus  Command = "status"  // status of one job, or of all when Job is empty
	CmdPull    Command = "pull"    // download a job file; needs Job
	CmdPush    Command = "push"    // upload a job file; needs Job and Data
	CmdDelete  Command = "delete"  // delete a job; needs Job
	CmdList    Command = "list"    // list all jobs
	CmdReload  Command = "reload"  // reload a job; needs Job
	CmdRestart Command = "restart" // reload all jobs
)

// Extensions to the protocol document (see docs/protocol.md).
const (
	CmdTail Command = "tail" // recent output of a job; needs Job, Data optional JSON
	CmdWait Command = "wait" // wait for a job to reach a state; needs Job and Data
	// CmdAgents lists a fleet manager's agents; status reply with JSON
	// {"agents":[...]} (docs/fleet.md).
	CmdAgents Command = "agents"
	// CmdAttach attaches to an instance: needs Job, Data optional JSON. Its
	// reply, KindAttached, opens a stream (see Response.Stream).
	CmdAttach   Command = "attach"
	CmdSignal   Command = "signal"   // send a signal to a job's process groups; needs Job and Data (the signal)
	CmdShutdown Command = "shutdown" // shut taskmasterd down, as SIGTERM does
)

// Messages a client sends inside the stream an attach opened. They are not
// requests of their own: outside a stream they are invalid.
const (
	CmdInput  Command = "input"  // Data: bytes typed, for the terminal
	CmdResize Command = "resize" // Data: JSON {"rows":R,"cols":C}
	CmdDetach Command = "detach" // end the session; the process goes on
)

// Kind names the kind of a Response.
type Kind string

// The response kinds of the protocol document.
const (
	KindSuccess   Kind = "success"   // the command succeeded
	KindFail      Kind = "fail"      // the command failed; Error says why
	KindInvalid   Kind = "invalid"   // the request was not understood
	KindStatus    Kind = "status"    // Data holds status JSON
	KindRedundant Kind = "redundant" // nothing to do: already running or already stopped
	KindFile      Kind = "file"      // Job and Data hold a job file
	KindList      Kind = "list"      // Data holds the job list JSON
)

// Response kinds of the extensions' streams.
const (
	KindAttached Kind = "attached" // an attach succeeded and the stream begins: Job, Data (JSON)
	KindOutput   Kind = "output"   // in a stream: Data holds output
	KindExit     Kind = "exit"     // in a stream, its last message: the process ended; Data (JSON) says how
	KindDetached Kind = "detached" // in a stream, its last message: the session ended otherwise; Error says why, unless asked
)

// Request is one query from a client, with Job and Data already decoded from
// base64. The wire does not tell a missing field from an empty one, so an
// empty Job or Data means "not given".
type Request struct {
	Command Command
	Job     string
	Data    []byte
	// Token is the shared secret of the "token" extension, sent as a plain
	// JSON string. The Server checks it before calling the Handler.
	Token string
}

// Response is one reply to a Request. Which fields reach the wire depends on
// Kind: Job only for file, Data for status, file and list, Error for fail
// (and, as an extension, for invalid).
type Response struct {
	Kind  Kind
	Job   string
	Data  []byte
	Error string
	// Stream, when set by a Handler, turns the connection into a stream
	// once this reply is written (an attach session): the Server calls it
	// with the connection's Stream, which is its own until it returns;
	// then the connection is closed. It is called exactly once: also when
	// the reply cannot be written, or the server is shutting down, with a
	// Stream whose Recv and Send fail at once, so that it can let go of
	// what it holds. ctx ends when the server shuts down. Never on the
	// wire.
	Stream func(ctx context.Context, st *Stream)
}

// Success reports that a command succeeded.
func Success() *Response { return &Response{Kind: KindSuccess} }

// Redundant reports that a command had nothing to do, such as starting a job
// that is already running.
func Redundant() *Response { return &Response{Kind: KindRedundant} }

// Fail reports that a command failed, with err's text as the reason.
func Fail(err error) *Response {
	if err == nil {
		err = errors.New("unknown error")
	}
	return &Response{Kind: KindFail, Error: err.Error()}
}

// Failf reports that a command failed, with a formatted reason.
func Failf(format string, args ...any) *Response {
	return &Response{Kind: KindFail, Error: fmt.Sprintf(format, args...)}
}

// Invalid reports that a request was not understood. The reason travels in
// the "error" field, an extension the original client ignores.
func Invalid(reason string) *Response { return &Response{Kind: KindInvalid, Error: reason} }

// Status answers a status query with status JSON.
func Status(data []byte) *Response { return &Response{Kind: KindStatus, Data: data} }

// File answers a pull with the job file of job.
func File(job string, data []byte) *Response {
	return &Response{Kind: KindFile, Job: job, Data: data}
}

// List answers a list query with the job list JSON (see EncodeJobList).
func List(data []byte) *Response { return &Response{Kind: KindList, Data: data} }
