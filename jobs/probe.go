package jobs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/output"
	"github.com/taskmaster/taskmaster/reaper"
)

// CheckStarter starts the command of an exec check. The Starter of
// NewStarter is one; a Starter that is not cannot run exec checks.
type CheckStarter interface {
	// StartCheck starts c.Cmd as c's instance would be started (its env,
	// user, working directory and umask), in a process group of its own,
	// with its stdout and stderr going to c.Out, and returns its pid.
	// onExit is called once at its end, as for Starter.Start; c.OutDone
	// once its output has ended. Neither is called when StartCheck fails.
	StartCheck(c *CheckProc, onExit func(reaper.Exit)) (pid int, err error)
}

// CheckProc is the command of an exec check, to start.
type CheckProc struct {
	Proc                       // the instance it checks (Ring is nil)
	Cmd     []string           // program and arguments
	Out     output.Destination // gets its stdout and stderr, merged
	OutDone func()             // called when its output has ended
}

// checkRun is one run of a check.
type checkRun struct {
	p       *prober
	spec    *jobfile.Probe
	started time.Time          // when it was due
	cancel  context.CancelFunc // tcp, http: ends the run early
	// exec:
	pid      int
	timeout  *alarm
	exit     *reaper.Exit // how it ended, once it has
	outDone  bool
	out      *tailBuffer
	timedOut bool
}

// startRun starts a run of p's check, unless one is under way; at is when
// it was due.
func (s *Supervisor) startRun(p *prober, at time.Time) {
	spec := p.spec()
	if p.run != nil || spec == nil || !p.current() {
		return
	}
	r := &checkRun{p: p, spec: spec, started: at}
	p.run = r
	switch spec.Kind {
	case jobfile.ProbeTCP, jobfile.ProbeHTTP:
		s.startDial(r)
	case jobfile.ProbeExec:
		s.startExec(r)
	}
}

// startDial starts a run of a tcp or http check. A tcp check of an IP
// address whose connect ends at once, as one of a local service does on
// loopback, is over before startDial returns: its outcome is handled
// with what the loop does next, and it costs no goroutine, no timer and
// no wake-up of the loop (the connect of a non-blocking socket does not
// wait: a handshake that takes time goes on in a goroutine). The others
// dial in a goroutine of their own, within the check's timeout.
func (s *Supervisor) startDial(r *checkRun) {
	spec := r.spec
	dial := func(ctx context.Context) error { return dialCheck(ctx, spec) }
	if ap, ok := literalAddr(spec.Addr); ok && spec.Kind == jobfile.ProbeTCP {
		fd, done, err := connectStart(ap)
		if done {
			err = dialError(ap, err)
			s.inbox.push(func() { s.runDone(r, err) })
			return
		}
		dial = func(ctx context.Context) error {
			return timeoutError(ctx, spec, dialError(ap, awaitConnect(ctx, fd)))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), spec.Timeout)
	r.cancel = cancel
	go func() {
		defer cancel()
		err := dial(ctx)
		s.inbox.push(func() { s.runDone(r, err) })
	}()
}

// abandonRun forgets a run its prober no longer wants.
func (s *Supervisor) abandonRun(r *checkRun) {
	if r.cancel != nil {
		r.cancel()
	}
	s.clearAlarm(r.timeout)
	if r.pid > 0 && r.exit == nil {
		s.signalGroup(r.pid, syscall.SIGKILL)
	}
}

// killCheckLeftovers kills what is left in the group of an exec check
// whose process has ended. Only the group: the pid itself, reaped, may be
// another process's by now.
func (s *Supervisor) killCheckLeftovers(r *checkRun) {
	_ = s.cfg.Kill(-r.pid, syscall.SIGKILL)
}

// checkDialer dials the connections of tcp and http checks, which live
// for one check. They need no keep-alive probes (Go sets four socket
// options for them at every dial), and they are closed with a reset
// (SO_LINGER 0) rather than a FIN: an orderly close leaves the socket in
// TIME_WAIT for a minute, holding an ephemeral port and a conntrack
// entry, and 200 checks a second kept 12,000 of them. Kubernetes' probes
// and HAProxy's checks close theirs the same way.
var checkDialer = net.Dialer{KeepAlive: -1, Control: resetOnClose}

// resetOnClose sets SO_LINGER 0 on a socket about to connect.
func resetOnClose(_, _ string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		err = syscall.SetsockoptLinger(int(fd), syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0})
	}); cerr != nil {
		return cerr
	}
	return err
}

// dialCheck runs a tcp or http check until it passes, fails or ctx ends.
func dialCheck(ctx context.Context, spec *jobfile.Probe) error {
	if spec.Kind == jobfile.ProbeTCP {
		return timeoutError(ctx, spec, tcpCheck(ctx, spec.Addr))
	}
	return timeoutError(ctx, spec, httpCheck(ctx, spec))
}

// timeoutError says "timed out after 5s" for a check that ran out of
// time, which the dialer reports in its own words.
func timeoutError(ctx context.Context, spec *jobfile.Probe, err error) error {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %v", spec.Timeout)
	}
	return err
}

// maxCheckBody is how much of an answer's body an http check reads (and
// throws away) before it closes the connection.
const maxCheckBody = 64 << 10

// maxCheckHeader bounds an answer's status line and header: the service
// is the job's, and the job's program must not be able to make
// taskmasterd buffer a header that never ends.
const maxCheckHeader = 64 << 10

// errCheckHeader is an answer whose header is over maxCheckHeader.
var errCheckHeader = fmt.Errorf("the answer's header is over %d bytes", maxCheckHeader)

// capReader fails with err once more than n bytes have been read.
type capReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, c.err
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// httpCheck sends one GET over a connection of its own and reads the
// answer: HTTP/1.1, "Connection: close". It keeps no connection open
// between checks, goes through no proxy whatever the environment says,
// follows no redirect (a 3xx is the answer), and, like Kubernetes' probes,
// does not verify the certificate of an https service: it tests a local
// service, often with a certificate of its own. (net/http's client would
// do all that too, with much more code, its HTTP/2 client included, in
// taskmasterd's binary and memory.)
func httpCheck(ctx context.Context, spec *jobfile.Probe) error {
	u, err := url.Parse(spec.URL)
	if err != nil {
		return err
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	conn, err := checkDialer.DialContext(ctx, "tcp", net.JoinHostPort(u.Hostname(), port))
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	if u.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname(), InsecureSkipVerify: true}) //nolint:gosec // see above
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUser-Agent: taskmasterd-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return err
	}
	// The header gets maxCheckHeader, the body maxCheckBody more.
	capped := &capReader{r: conn, n: maxCheckHeader, err: errCheckHeader}
	resp, err := http.ReadResponse(bufio.NewReader(capped), nil)
	if err != nil {
		if errors.Is(err, errCheckHeader) || capped.n <= 0 {
			err = errCheckHeader
		}
		return fmt.Errorf("GET %s: %w", spec.URL, err)
	}
	capped.n += maxCheckBody
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxCheckBody))
	_ = resp.Body.Close()
	if resp.StatusCode < spec.StatusMin || resp.StatusCode > spec.StatusMax {
		return fmt.Errorf("HTTP %s (want %s)", resp.Status, statusRange(spec))
	}
	return nil
}

func statusRange(spec *jobfile.Probe) string {
	if spec.StatusMin == spec.StatusMax {
		return fmt.Sprint(spec.StatusMin)
	}
	return fmt.Sprintf("%d-%d", spec.StatusMin, spec.StatusMax)
}

// startExec starts the command of an exec check through the Starter, and
// the alarm that kills it when it takes longer than its timeout.
func (s *Supervisor) startExec(r *checkRun) {
	in := r.p.in
	cs, ok := s.cfg.Starter.(CheckStarter)
	if !ok {
		s.inbox.push(func() { s.runDone(r, errors.New("exec checks are not supported here")) })
		return
	}
	r.out = &tailBuffer{}
	proc := &CheckProc{
		Proc: Proc{Name: in.name, Index: in.index, Spec: in.spec},
		Cmd:  r.spec.Cmd, Out: r.out,
		OutDone: func() { s.inbox.push(func() { r.outDone = true; s.execProgress(r) }) },
	}
	pid, err := cs.StartCheck(proc, func(e reaper.Exit) { s.inbox.push(func() { r.exit = &e; s.execProgress(r) }) })
	if err != nil {
		s.inbox.push(func() { s.runDone(r, err) })
		return
	}
	r.pid = pid
	r.timeout = newAlarm(func() { s.execTimedOut(r) })
	s.setAlarm(r.timeout, s.now().Add(r.spec.Timeout))
}

// execProgress finishes an exec run once its process has ended and its
// output with it.
func (s *Supervisor) execProgress(r *checkRun) {
	if r.exit == nil {
		return
	}
	if !r.outDone && !r.timedOut {
		// What the check left in its group holds the output open: a
		// check leaves nothing behind.
		s.killCheckLeftovers(r)
		return
	}
	s.clearAlarm(r.timeout)
	s.runDone(r, r.outcome())
}

// execTimedOut kills a check that ran out of time; its run ends when its
// end is reaped. One whose output is held open by a process that left its
// group ends now.
func (s *Supervisor) execTimedOut(r *checkRun) {
	r.timedOut = true
	if r.exit == nil {
		s.signalGroup(r.pid, syscall.SIGKILL)
		return
	}
	s.runDone(r, r.outcome())
}

// outcome is nil for an exec check that exited 0, else why it failed.
func (r *checkRun) outcome() error {
	var why string
	switch {
	case r.timedOut && (r.exit == nil || r.exit.Status.Signaled()):
		why = fmt.Sprintf("timed out after %v", r.spec.Timeout)
	case r.exit.Status.Signaled():
		why = "killed by " + jobfile.SignalName(r.exit.Status.Signal())
	case r.exit.Status.ExitStatus() != 0:
		why = fmt.Sprintf("exit status %d", r.exit.Status.ExitStatus())
	default:
		return nil
	}
	if out := r.out.text(); out != "" {
		why += ": " + out
	}
	return errors.New(why)
}

// tailBuffer keeps the end of an exec check's output, for the reason of
// its failure.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
}

// maxCheckOutput is how much of a check's output is kept.
const maxCheckOutput = 512

// WriteLines keeps the last maxCheckOutput bytes.
func (t *tailBuffer) WriteLines(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - maxCheckOutput; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
}

// text is the output on one line: its lines joined with "; ".
func (t *tailBuffer) text() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lines []string
	for _, l := range bytes.Split(t.buf, []byte{'\n'}) {
		if l := strings.TrimSpace(strings.ToValidUTF8(string(l), "?")); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}
