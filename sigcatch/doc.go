// Package sigcatch catches the signals that os/signal cannot: on Linux the
// Go runtime installs no handler for signals 32 and 34 (the C library's
// thread-cancellation signal and musl's SIGSYNCCALL, see Go issue 39343),
// and signal.Notify does nothing for them, so their default action applies
// and either one terminates a Go program. For an init, which must outlive
// every signal but SIGKILL and SIGSTOP, that is a crash anyone who may
// signal it can cause.
//
// Ignoring them (SIG_IGN) would not do: an ignored signal stays ignored
// across exec, so every job would start deaf to SIGRTMIN. Instead sigcatch
// installs a handler of its own, a few instructions of assembly that write
// the signal number to a pipe and return. A handled signal is reset to its
// default action at exec, so children start as they would under any other
// parent; the handler runs without touching the Go runtime's state, on the
// thread's alternate signal stack that the runtime sets up for every
// thread; and a goroutine reading the pipe passes each signal on to a
// channel, as os/signal does.
//
// The same handler serves every other signal the runtime does not need to
// see itself (Handle, Handleable): catching a signal through os/signal
// costs a round trip between two threads, catching it here one system
// call, and an init catches some sixty at every start. Like os/signal, it
// unblocks what it catches (on a thread of its own), so that a signal the
// process started with blocked is delivered too. The handler writes only
// in the process that installed it: a child the runtime has forked keeps
// the handler until its exec for the signals the runtime does not reset
// there, and the handler gives a signal sent to the child then its
// default action, as that reset would have.
//
// Signal 33, the third signal the runtime reserves, needs nothing: the
// runtime handles it itself (it uses it for per-thread system calls) and
// ignores it when it comes from elsewhere.
package sigcatch
