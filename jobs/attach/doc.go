// Package attach lets clients attach to the process of an instance, as
// docker attach does to a container: they see its output as it is read,
// and, for a process on a terminal (a job with "tty": true), they type
// into that terminal and set its size.
//
// Each instance has a Point, which outlives its processes (like its output
// ring): it keeps the terminal size the last client set, for the next
// terminal too. Each process started is a Process of the Point: the
// starter gives it the master side of the process's terminal, taps its
// output streams, and tells it when the process exits. A Session is one
// attached client.
//
// Nothing here may hold up a process or the goroutines that read its
// output: a tap hands each read to every session without blocking, into
// a buffer of bounded size, and a session that falls further behind than
// that is dropped (it ends, saying why) rather than allowed to slow the
// process down or make taskmasterd keep output without bound.
//
// A session ends when the process it is attached to has exited and its
// output streams have ended, so that it sees the last output before the
// exit; when its client detaches; or when it is dropped.
package attach
