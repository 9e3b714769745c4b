package wire

import (
	"fmt"

	"github.com/taskmaster/taskmaster/fleet/fleetpb"
)

// New wraps a payload in a Message with its type set: the original reads
// the type to dispatch, so the two must agree. It panics on a payload
// that is not one of Message's members.
func New(p any) *fleetpb.Message {
	m := &fleetpb.Message{}
	switch p := p.(type) {
	case *fleetpb.ClientHello:
		m.Type, m.Message = fleetpb.MessageType_CLIENTHELLO, &fleetpb.Message_ClientHello{ClientHello: p}
	case *fleetpb.ServerHello:
		m.Type, m.Message = fleetpb.MessageType_SERVERHELLO, &fleetpb.Message_ServerHello{ServerHello: p}
	case *fleetpb.Bye:
		m.Type, m.Message = fleetpb.MessageType_BYE, &fleetpb.Message_Bye{Bye: p}
	case *fleetpb.Ping:
		m.Type, m.Message = fleetpb.MessageType_PING, &fleetpb.Message_Ping{Ping: p}
	case *fleetpb.Pong:
		m.Type, m.Message = fleetpb.MessageType_PONG, &fleetpb.Message_Pong{Pong: p}
	case *fleetpb.Command:
		m.Type, m.Message = fleetpb.MessageType_COMMAND, &fleetpb.Message_Command{Command: p}
	case *fleetpb.CommandCancel:
		m.Type, m.Message = fleetpb.MessageType_COMMANDCANCEL, &fleetpb.Message_Cancel{Cancel: p}
	case *fleetpb.CommandProgress:
		m.Type, m.Message = fleetpb.MessageType_COMMANDPROGRESS, &fleetpb.Message_Progress{Progress: p}
	case *fleetpb.CommandResult:
		m.Type, m.Message = fleetpb.MessageType_COMMANDRESULT, &fleetpb.Message_Result{Result: p}
	case *fleetpb.CommandOutput:
		m.Type, m.Message = fleetpb.MessageType_COMMANDOUTPUT, &fleetpb.Message_Output{Output: p}
	case *fleetpb.DataRequest:
		m.Type, m.Message = fleetpb.MessageType_DATAREQUEST, &fleetpb.Message_DataRequest{DataRequest: p}
	case *fleetpb.DataResponse:
		m.Type, m.Message = fleetpb.MessageType_DATARESPONSE, &fleetpb.Message_DataResponse{DataResponse: p}
	case *fleetpb.JobState:
		m.Type, m.Message = fleetpb.MessageType_JOBSTATE, &fleetpb.Message_JobState{JobState: p}
	case *fleetpb.JobsChanged:
		m.Type, m.Message = fleetpb.MessageType_JOBSCHANGED, &fleetpb.Message_JobsChanged{JobsChanged: p}
	default:
		panic(fmt.Sprintf("wire.New: %T is not a fleet message", p))
	}
	return m
}

// typeOf is the type that goes with a Message's member, and whether the
// member is one this side knows (a nil member is not).
func typeOf(member any) (fleetpb.MessageType, bool) {
	switch member.(type) {
	case *fleetpb.Message_ClientHello:
		return fleetpb.MessageType_CLIENTHELLO, true
	case *fleetpb.Message_ServerHello:
		return fleetpb.MessageType_SERVERHELLO, true
	case *fleetpb.Message_Bye:
		return fleetpb.MessageType_BYE, true
	case *fleetpb.Message_Ping:
		return fleetpb.MessageType_PING, true
	case *fleetpb.Message_Pong:
		return fleetpb.MessageType_PONG, true
	case *fleetpb.Message_Command:
		return fleetpb.MessageType_COMMAND, true
	case *fleetpb.Message_Cancel:
		return fleetpb.MessageType_COMMANDCANCEL, true
	case *fleetpb.Message_Progress:
		return fleetpb.MessageType_COMMANDPROGRESS, true
	case *fleetpb.Message_Result:
		return fleetpb.MessageType_COMMANDRESULT, true
	case *fleetpb.Message_Output:
		return fleetpb.MessageType_COMMANDOUTPUT, true
	case *fleetpb.Message_DataRequest:
		return fleetpb.MessageType_DATAREQUEST, true
	case *fleetpb.Message_DataResponse:
		return fleetpb.MessageType_DATARESPONSE, true
	case *fleetpb.Message_JobState:
		return fleetpb.MessageType_JOBSTATE, true
	case *fleetpb.Message_JobsChanged:
		return fleetpb.MessageType_JOBSCHANGED, true
	}
	return fleetpb.MessageType_UNSPECIFIED, false
}
