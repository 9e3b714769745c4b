package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// control measures a status round trip against a supervisor with 10 jobs,
// two ways: the command-line client as a user runs it (taskmasterctl status,
// supervisorctl status, b.ctlRuns each), and the bare request on a fresh
// connection from Go (b.rpcRuns each), which leaves out the client's own
// start-up. The two supervisors run at the same time and are asked in turn.
func (b *bench) control(ctx context.Context) (string, error) {
	tm, err := b.startTaskmasterd("taskmasterd", taskmasterdJobs(10, 1, ""), nil)
	if err != nil {
		return "", err
	}
	defer tm.stop()
	sd, err := b.startSupervisord("supervisord", supervisordPrograms(10, 1, ""), nil)
	if err != nil {
		return "", err
	}
	defer sd.stop()
	sups := []*supervisor{tm, sd}
	for _, s := range sups {
		if err := waitChildren(ctx, s.proc, "sleep", 10, 30*time.Second); err != nil {
			return "", err
		}
	}
	// Both report RUNNING after 1 s (starttime, startsecs); wait until the
	// status command succeeds.
	for _, s := range sups {
		if err := waitStatus(ctx, s); err != nil {
			return "", err
		}
	}

	progress("control round trip: %d status commands each", b.ctlRuns)
	cli := make([][]time.Duration, len(sups))
	for run := range b.ctlRuns {
		for k := range sups {
			i := (run + k) % len(sups)
			if err := ctx.Err(); err != nil {
				return "", err
			}
			d, err := timeRun(sups[i].ctl, nil)
			if err != nil {
				return "", fmt.Errorf("%s: %w", strings.Join(sups[i].ctl, " "), err)
			}
			cli[i] = append(cli[i], d)
		}
	}

	progress("control round trip: %d requests each on fresh connections", b.rpcRuns)
	rpcs := []func(context.Context) error{
		func(ctx context.Context) error { return taskmasterStatus(ctx, tm.addr) },
		func(ctx context.Context) error { return supervisorStatus(ctx, sd.sock) },
	}
	rpc := make([][]time.Duration, len(sups))
	for run := range b.rpcRuns {
		for k := range sups {
			i := (run + k) % len(sups)
			t0 := time.Now()
			if err := rpcs[i](ctx); err != nil {
				return "", fmt.Errorf("%s: %w", sups[i].name, err)
			}
			rpc[i] = append(rpc[i], time.Since(t0))
		}
	}
	for _, s := range sups {
		if err := s.alive(); err != nil {
			return "", err
		}
	}

	var sb strings.Builder
	fmt.Fprintf(&sb, "## 6. Control round trip\n\n")
	fmt.Fprintf(&sb, "A status query against a supervisor with the 10 sleeping jobs of section 1. **CLI**: wall time of `taskmasterctl -addr ADDR status` (TCP loopback) and `supervisorctl -c CONF status` (unix socket), %d runs each, alternating, including the client's own start-up. **Request**: one status request on a fresh connection from Go, %d each: the Taskmaster protocol's `status` through `ctlproto`, and supervisord's XML-RPC `supervisor.getAllProcessInfo` over its unix socket (what `supervisorctl status` asks). Median (p10–p90) in ms.\n\n", b.ctlRuns, b.rpcRuns)
	fmt.Fprintf(&sb, "| supervisor | CLI ms | request ms |\n|---|---|---|\n")
	for i, s := range sups {
		fmt.Fprintf(&sb, "| %s | %s | %s |\n", s.name, summarize(ms(cli[i])).medianSpread(), summarize(ms(rpc[i])).medianSpread())
	}
	return sb.String(), nil
}

// waitStatus waits until s's status command succeeds.
func waitStatus(ctx context.Context, s *supervisor) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := exec.CommandContext(ctx, s.ctl[0], s.ctl[1:]...).CombinedOutput()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: status still fails after 30 s: %v\n%s%s", s.name, err, out, s.logTail())
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// taskmasterStatus asks taskmasterd at addr for its status on a new
// connection.
func taskmasterStatus(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := ctlproto.Dial(ctx, addr, "")
	if err != nil {
		return err
	}
	defer c.Close()
	resp, err := c.Do(ctx, &ctlproto.Request{Command: ctlproto.CmdStatus})
	if err != nil {
		return err
	}
	if resp.Kind != ctlproto.KindStatus || !bytes.Contains(resp.Data, []byte("s9")) {
		return fmt.Errorf("unexpected status reply %s %q", resp.Kind, resp.Data)
	}
	return nil
}

// getAllProcessInfo is the XML-RPC call behind supervisorctl status.
const getAllProcessInfo = `<?xml version="1.0"?><methodCall><methodName>supervisor.getAllProcessInfo</methodName><params></params></methodCall>`

// supervisorStatus asks supervisord for every process's state over its unix
// socket on a new connection.
func supervisorStatus(ctx context.Context, sock string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	tr := &http.Transport{
		DisableKeepAlives: true,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://localhost/RPC2", strings.NewReader(getAllProcessInfo))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(body, []byte("<fault>")) || !bytes.Contains(body, []byte("s9")) {
		return fmt.Errorf("unexpected reply %s: %.200s", resp.Status, body)
	}
	return nil
}
