package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// sleeper is the job every supervisor runs: a process that does nothing.
const sleeper = "/bin/sleep 100000"

// supervisor is a running taskmasterd or supervisord with its jobs, PID 1 of
// its own PID namespace.
type supervisor struct {
	*proc
	ctl  []string // the command line of its status command
	jobs string   // taskmasterd: its job directory
	addr string   // taskmasterd: control address
	http string   // taskmasterd: HTTP address (dashboard, live link, metrics)
	sock string   // supervisord: unix socket of its XML-RPC interface
}

// startTaskmasterd starts taskmasterd on a job directory holding files,
// each "NAME.tm.json": body, and listening on a free loopback port. ready,
// if not nil, runs before taskmasterd is exec'd (startInNamespaceReady).
// extra are more flags for taskmasterd, e.g. "-watch", "off".
func (b *bench) startTaskmasterd(name string, files map[string]string, ready func(*proc) error, extra ...string) (*supervisor, error) {
	dir, err := os.MkdirTemp(b.tmp, "taskmasterd-")
	if err != nil {
		return nil, err
	}
	jobs := filepath.Join(dir, "jobs")
	if err := os.Mkdir(jobs, 0o755); err != nil {
		return nil, err
	}
	for job, body := range files {
		if err := os.WriteFile(filepath.Join(jobs, job+".tm.json"), []byte(body), 0o644); err != nil {
			return nil, err
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	// The HTTP listener is on, as it is by default.
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	argv := append([]string{b.taskmasterd, "-jobs", jobs, "-listen", addr, "-http", httpAddr}, extra...)
	p, err := startInNamespaceReady(name, argv, filepath.Join(dir, "log"), ready)
	if err != nil {
		return nil, err
	}
	return &supervisor{proc: p, jobs: jobs, addr: addr, http: httpAddr, ctl: []string{b.taskmasterctl, "-addr", addr, "status"}}, nil
}

// taskmasterdJobs are jobs job files of procs sleeping instances each,
// named s00, s01, ...; extra is added to each file's object, e.g.
// `,"starttime":0`.
func taskmasterdJobs(jobs, procs int, extra string) map[string]string {
	files := map[string]string{}
	for i := range jobs {
		files[fmt.Sprintf("s%02d", i)] = fmt.Sprintf(`{"cmd":%q,"numprocs":%d%s}`, sleeper, procs, extra)
	}
	return files
}

// startSupervisord starts supervisord with programs (its [program:x]
// sections) and an XML-RPC unix socket. Everything else is supervisord's
// default, as taskmasterd's job files are taskmasterd's defaults: output is
// captured in log files (taskmasterd copies it to its console), but for
// minfds, which supervisord needs raised to run more than about 300
// processes (three pipes each). ready is as for startTaskmasterd.
func (b *bench) startSupervisord(name, programs string, ready func(*proc) error) (*supervisor, error) {
	dir, err := os.MkdirTemp(b.tmp, "supervisord-")
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "sock")
	conf := filepath.Join(dir, "supervisord.conf")
	body := fmt.Sprintf(`[unix_http_server]
file=%[1]s/sock

[supervisord]
nodaemon=true
minfds=16384
logfile=%[1]s/supervisord.log
pidfile=%[1]s/supervisord.pid
childlogdir=%[1]s

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%[1]s/sock

%[2]s`, dir, programs)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, err
	}
	p, err := startInNamespaceReady(name, []string{b.supervisord, "-c", conf}, filepath.Join(dir, "log"), ready)
	if err != nil {
		return nil, err
	}
	return &supervisor{proc: p, sock: sock, ctl: []string{b.supervisorctl, "-c", conf, "status"}}, nil
}

// supervisordPrograms are the supervisord programs equivalent to
// taskmasterdJobs(jobs, procs, ...): extra lines are added to each
// section, e.g. "startsecs=0\n".
func supervisordPrograms(jobs, procs int, extra string) string {
	var sb strings.Builder
	for i := range jobs {
		fmt.Fprintf(&sb, "[program:s%02d]\ncommand=%s\n", i, sleeper)
		if procs != 1 {
			fmt.Fprintf(&sb, "numprocs=%d\nprocess_name=%%(program_name)s_%%(process_num)04d\n", procs)
		}
		sb.WriteString(extra + "\n")
	}
	return sb.String()
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitChildren waits until p has n children named name.
func waitChildren(ctx context.Context, p *proc, name string, n int, timeout time.Duration) error {
	seen := map[int]bool{}
	deadline := time.Now().Add(timeout)
	for countChildren(p.pid, name, seen) < n {
		if err := p.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d %s children after %v%s", p.name, len(seen), n, name, timeout, p.logTail())
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
