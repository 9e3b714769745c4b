package ctl

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// attachReply is the data of the attached reply.
type attachReply struct {
	Instance string `json:"instance"`
	TTY      bool   `json:"tty"`
}

// windowSize is the data of an attach request and of resize.
type windowSize struct {
	Rows int `json:"rows"`
	Cols int `json:"cols"`
}

// exitData is the data of the exit message.
type exitData struct {
	ExitCode int    `json:"exit_code"`
	Signal   string `json:"signal"`
}

func setupAttach(fs *flag.FlagSet) runFunc {
	keys := defaultDetachKeys
	fs.StringVar(&keys, "detach-keys", defaultDetachKeys, "the keys that detach, as docker writes them")
	return func(s *session, args []string) int {
		seq, err := parseDetachKeys(keys)
		if err != nil {
			fmt.Fprintf(s.errw, "taskmasterctl: %v\n", err)
			return ExitUsage
		}
		return s.attach(args[0], seq, keys)
	}
}

// attach becomes the terminal of target's process until it exits, the
// user detaches, or the connection is lost.
func (s *session) attach(target string, keys []byte, keysText string) int {
	local := newTTY(s.in)
	var data []byte
	if size, ok := local.size(); ok {
		data, _ = json.Marshal(size)
	}
	if s.client == nil {
		if err := s.dial(); err != nil {
			return s.failed(err)
		}
	}
	ctx, cancel := s.bound(0)
	resp, st, err := s.client.Open(ctx, &ctlproto.Request{Command: ctlproto.CmdAttach, Job: target, Data: data}, ctlproto.KindAttached)
	cancel()
	if err != nil {
		s.close()
		return s.failed(s.netError(err, false))
	}
	if st == nil {
		return s.refused(target, resp)
	}
	defer st.Close()
	info := attachReply{Instance: target}
	_ = json.Unmarshal(resp.Data, &info)
	a := &attachment{s: s, st: st, info: info, local: local, detach: detacher{seq: keys}, keys: keysText}
	return a.run()
}

// attachment is one attach session on the client's side.
type attachment struct {
	s      *session
	st     *ctlproto.ClientStream
	info   attachReply
	local  *tty // the user's terminal, when stdin is one
	detach detacher
	keys   string // the detach keys as given, for messages
}

// ending is how a session ended: the exit code of taskmasterctl and what
// to say, if anything.
type ending struct {
	code int
	msg  string
}

func (a *attachment) run() int {
	if !a.info.TTY {
		fmt.Fprintf(a.s.errw, "taskmasterctl: %s has no terminal (its job has no \"tty\": true): its output follows; input is not possible (%s or Ctrl-C ends)\n",
			a.info.Instance, a.keys)
	}
	restore, err := a.terminalMode()
	if err != nil {
		fmt.Fprintf(a.s.errw, "taskmasterctl: terminal: %v\n", err)
		return ExitFail
	}
	end := a.loop()
	restore()
	if end.msg != "" {
		fmt.Fprintf(a.s.errw, "taskmasterctl: %s\n", visible(end.msg))
	}
	return end.code
}

// terminalMode puts the user's terminal in raw mode, so that every key
// (Ctrl-C, the detach keys, arrows) reaches taskmasterctl, and returns the
// function that restores it. For a process without a terminal, output
// processing stays on: its lines end in \n alone, which a raw terminal
// would not take back to the left margin.
func (a *attachment) terminalMode() (restore func(), err error) {
	if !a.local.ok {
		return func() {}, nil
	}
	saved, err := term.MakeRaw(a.local.fd)
	if err != nil {
		return nil, err
	}
	restore = func() { _ = term.Restore(a.local.fd, saved) }
	if !a.info.TTY {
		tio, err := unix.IoctlGetTermios(a.local.fd, unix.TCGETS)
		if err == nil {
			tio.Oflag |= unix.OPOST | unix.ONLCR
			err = unix.IoctlSetTermios(a.local.fd, unix.TCSETS, tio)
		}
		if err != nil {
			restore()
			return nil, err
		}
	}
	return restore, nil
}

// loop runs the session: output to stdout, keys to the process, window
// sizes on SIGWINCH, until it ends one way or another.
func (a *attachment) loop() ending {
	ended := make(chan ending, 3)
	go func() { ended <- a.receive() }()
	input, stopInput := a.input()
	if input != nil {
		go func() {
			if end, ok := a.forward(input); ok {
				ended <- end
			}
		}()
	}
	stopResizes := a.followResizes()
	var end ending
	select {
	case end = <-ended:
	case <-a.s.ctx.Done():
		end = ending{ExitInterrupted, "interrupted"}
	}
	stopResizes()
	stopInput()
	_ = a.st.Close()
	return end
}

// receive shows what the server sends until the session ends.
func (a *attachment) receive() ending {
	for {
		resp, err := a.st.Recv()
		if err != nil {
			return ending{ExitUnreachable, a.s.netError(err, false).Error()}
		}
		switch resp.Kind {
		case ctlproto.KindOutput:
			_, _ = a.s.out.Write(resp.Data)
		case ctlproto.KindExit:
			var e exitData
			if err := json.Unmarshal(resp.Data, &e); err != nil {
				return ending{ExitFail, fmt.Sprintf("%s: bad exit message from taskmasterd: %v", a.info.Instance, err)}
			}
			return ending{e.ExitCode, ""}
		case ctlproto.KindDetached:
			if resp.Error == "" {
				return a.detached()
			}
			return ending{ExitFail, fmt.Sprintf("%s: taskmasterd ended the session: %s", a.info.Instance, resp.Error)}
		default: // fail or invalid: an input or resize was refused; the session goes on
			fmt.Fprintf(a.s.errw, "taskmasterctl: %s: %s\r\n", a.info.Instance, visible(replyError(resp)))
		}
	}
}

func (a *attachment) detached() ending {
	return ending{ExitOK, fmt.Sprintf("detached from %s, which goes on running", a.info.Instance)}
}

// input returns what to read the user's keys from, and how to stop
// reading them, or nil when there is nothing to read: a process without a
// terminal takes no input, so stdin is read only when it is a terminal
// (for the detach keys and Ctrl-C).
func (a *attachment) input() (io.Reader, func()) {
	if !a.info.TTY && !a.local.ok {
		return nil, func() {}
	}
	fd, ok := fdOf(a.s.in)
	if !ok {
		return a.s.in, func() {}
	}
	r, err := newStoppableReader(fd)
	if err != nil {
		return a.s.in, func() {}
	}
	done := make(chan struct{})
	return readerDone{r, done}, func() {
		r.stop()
		// The reader is closed once its Read returned, in forward.
		go func() { <-done; r.close() }()
	}
}

// readerDone is a stoppable reader and a channel closed when its reading
// goroutine is done with it.
type readerDone struct {
	*stoppableReader
	done chan struct{}
}

// forward passes the user's keys on until the detach keys, Ctrl-C for a
// process without a terminal, or the end of the input (output goes on
// then). It reports whether the keys ended the session.
func (a *attachment) forward(r io.Reader) (ending, bool) {
	if rd, ok := r.(readerDone); ok {
		defer close(rd.done)
	}
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			keys, detach := a.detach.feed(buf[:n])
			switch {
			case !a.info.TTY && bytes.IndexByte(keys, 3) >= 0:
				return ending{ExitInterrupted, "interrupted"}, true
			case a.info.TTY && len(keys) > 0:
				if a.st.Send(&ctlproto.Request{Command: ctlproto.CmdInput, Data: keys}) != nil {
					return ending{}, false // the receiver tells
				}
			}
			if detach {
				_ = a.st.Send(&ctlproto.Request{Command: ctlproto.CmdDetach})
				return a.detached(), true
			}
		}
		if err != nil {
			return ending{}, false
		}
	}
}

// followResizes sends the terminal's size whenever it changes (SIGWINCH),
// and returns the function that stops.
func (a *attachment) followResizes() func() {
	if !a.info.TTY || !a.local.ok {
		return func() {}
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	quit := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-winch:
				if size, ok := a.local.size(); ok {
					data, _ := json.Marshal(size)
					_ = a.st.Send(&ctlproto.Request{Command: ctlproto.CmdResize, Data: data})
				}
			case <-quit:
				return
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(quit)
		<-stopped
	}
}

// size returns the terminal's size, when it is a terminal and has one.
func (t *tty) size() (windowSize, bool) {
	if !t.ok {
		return windowSize{}, false
	}
	w, h, err := term.GetSize(t.fd)
	if err != nil || w <= 0 || h <= 0 {
		return windowSize{}, false
	}
	return windowSize{Rows: h, Cols: w}, true
}
