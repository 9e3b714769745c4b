// Package link speaks the live link of taskmasterd (seed 002, documented
// in docs/websocket.md): JSON messages {seq, type, data} over a
// message-oriented connection, in practice a WebSocket. A client says
// hello, registers with the token, and from then on receives every change
// of the jobs as it happens (job_update_event, job_file_event,
// shutdown_event, and the output of the jobs it subscribed to) and sends
// requests (list_jobs_request, start_job_request, ...) that are answered
// with responses matched by seq.
//
// link is a transport: requests become the same operations the control
// protocol runs (a ctlproto.Handler), and events come from the
// supervisor's event stream (jobs.Subscription). It owns no job state and
// knows nothing of HTTP; package web carries it over WebSocket.
package link
