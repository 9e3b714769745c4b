// Package fleet is the fleet link of taskmasterd (seed 004, documented in
// docs/fleet.md): one taskmasterd acts as the manager, the taskmasterd of
// every other container joins it as an agent, and the manager's control
// port, live link and taskmasterctl see and drive every job of every agent.
//
// Agents open TLS connections to the manager and speak framed protobuf
// messages (packages wire and fleetpb): a hello with the agent's id and
// secret, pings both ways, commands from the manager that the agent runs
// on its control handler, the agent's job states pushed as they change,
// and job files fetched from the manager.
//
// fleet is a transport: an agent turns a Command into a request to the
// same ctlproto.Handler that serves the control port, and the manager
// turns an AGENT/JOB request into a Command. It owns no job state.
package fleet
