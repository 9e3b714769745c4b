// Package output carries the stdout and stderr of supervised processes to
// where their job says, one whole line at a time.
//
// taskmasterd reads the read end of each process's stdout and stderr pipe
// with a Poller, which watches every pipe with one epoll instance and
// drains each in a goroutine only while it has data, as Pump does for a
// single reader. Both cut what they read into lines and hand them, a batch
// of whole lines at a time, to one Destination: a Console (taskmasterd's own
// stdout or stderr, each line prefixed with the instance name) or a File
// (appended to, shared by path in a FileSet). It also copies the lines to the
// instance's Ring, which keeps the last output for tail and tail -f, and
// shows each read, as it comes and before it is cut into lines, to the
// stream's Tap, if it has one (clients attached to the instance: a
// prompt must reach them before its Enter). The master side of a job's
// terminal (a pty) is read the same way as a pipe.
//
// The guarantees, and why they hold:
//
//   - Lines never interleave mid-line: a Destination is given whole lines
//     only, and a Console or a shared File holds one mutex across each write,
//     so lines from different processes never mix, even in a FIFO where
//     writes above PIPE_BUF are not atomic.
//   - Memory is bounded per stream: a stream's buffer starts small and
//     grows, while reads fill it, up to a MiB (a busy stream is read, and
//     its pipe enlarged, a MiB at a time); a line over MaxLine bytes is cut
//     into lines of MaxLine bytes; and a Ring keeps a fixed number of
//     bytes, allocated as output comes. A quiet stream in a Poller costs a
//     hundred bytes or so: no goroutine, and no buffer unless it holds part
//     of a line. When a destination is slow, Pump (or the Poller's drain of
//     that pipe) blocks in it, so the pipe fills and the writing process
//     blocks: taskmasterd never queues output.
//   - A stream is always drained: destinations do not return errors.
//     A Console counts its write errors (EPIPE when nobody reads docker logs)
//     and goes on; a File logs its first write error and drops output until
//     it is reopened. Those are the only ways output is lost.
//   - FileSet.Reopen (SIGUSR1, after logrotate moved the files) swaps each
//     file descriptor under the file's write lock: every line goes whole to
//     the old file or to the new one.
package output
