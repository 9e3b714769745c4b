package pid1

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/taskmaster/taskmaster/control"
	"github.com/taskmaster/taskmaster/ctlproto"
	"github.com/taskmaster/taskmaster/fleet"
	"github.com/taskmaster/taskmaster/internal/version"
	"github.com/taskmaster/taskmaster/link"
)

// FleetConfig configures the fleet link (docs/fleet.md): the manager's
// side, the agent's, or neither.
type FleetConfig struct {
	// Listen is the manager's TLS address for agents; "" for no manager.
	Listen string
	// Rules are the agents allowed to join (-fleet-agents).
	Rules fleet.Rules
	// CertFile and KeyFile are the manager's certificate; when not given,
	// one is generated in the state directory's fleet/ on the first start.
	CertFile, KeyFile string
	// Join is HOST:PORT of the manager to join as an agent; "" for none.
	Join    string
	AgentID string
	Secret  string
	Trust   fleet.Trust
	// Ping is the time between pings, both sides; a pong is due within
	// half of it.
	Ping time.Duration
	// JobsDir is the manager's -fleet-jobs: common/ and AGENT_ID/ job
	// files that agents fetch; "" for none.
	JobsDir string
}

// fleetDir is where a generated manager certificate is kept.
func (d *daemon) fleetDir() string {
	if d.cfg.StateDir == "" {
		return ""
	}
	return filepath.Join(d.cfg.StateDir, "fleet")
}

// startManager listens for agents, when taskmasterd is a fleet manager.
// It comes before the control server and the HTTP listener, whose
// requests for AGENT/JOB it carries.
func (d *daemon) startManager() error {
	c := d.cfg.Fleet
	if c.Listen == "" {
		return nil
	}
	cert, err := fleet.ManagerCertificate(c.CertFile, c.KeyFile, d.fleetDir(), listenNames(c.Listen))
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("fleet manager: %w", err)
	}
	d.manager = &fleet.Manager{
		Rules: c.Rules, Certificate: cert, Build: version.Version,
		PingInterval: c.Ping, Logger: d.log,
	}
	if c.JobsDir != "" {
		d.manager.Files = &fleet.JobFiles{Dir: c.JobsDir}
		if d.stopFleetJobs, err = d.manager.Files.Watch(d.manager.JobFilesChanged); err != nil {
			l.Close()
			return fmt.Errorf("-fleet-jobs: %w", err)
		}
	}
	d.managerDone = make(chan struct{})
	certFile := c.CertFile
	if certFile == "" {
		certFile = filepath.Join(d.fleetDir(), fleet.CertFile)
	}
	d.log.Info("fleet manager listening", "addr", l.Addr().String(), "agents_rules", len(c.Rules),
		"fingerprint", fleet.Fingerprint(cert.Leaf.Raw), "cert", certFile)
	go func() {
		defer close(d.managerDone)
		_ = d.manager.Serve(l)
	}()
	return nil
}

// listenNames are the names a generated certificate adds for the listen
// address: its host, unless it is a wildcard.
func listenNames(addr string) []string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" || host == "0.0.0.0" || host == "::" {
		return nil
	}
	return []string{host}
}

// stopManager says bye to every agent and closes the listener.
func (d *daemon) stopManager() {
	if d.manager == nil {
		return
	}
	if d.stopFleetJobs != nil {
		_ = d.stopFleetJobs()
	}
	_ = d.manager.Close()
	<-d.managerDone
}

// ops is the control handler of the control port and the live link: the
// jobs of this taskmasterd, and, on a manager, those of its agents.
func (d *daemon) ops() ctlproto.Handler {
	h := control.New(d.sup, d.cfg.JobsDir).OnShutdown(d.requestShutdown)
	if d.manager == nil {
		return h
	}
	return &fleet.Router{Local: h, Manager: d.manager}
}

// fleetJobs are the agents' jobs the live link adds to a manager's own;
// nil (no interface value at all) when taskmasterd is no manager.
func (d *daemon) fleetJobs() link.FleetJobs {
	if d.manager == nil {
		return nil
	}
	return d.manager
}

// linkSlaves lets agents join a manager over its live link
// (register_slave); nil when taskmasterd is no manager.
func (d *daemon) linkSlaves() link.Slaves {
	if d.manager == nil {
		return nil
	}
	return slaves{d.manager}
}

// slaves adapts *fleet.Manager to link.Slaves: neither package imports
// the other.
type slaves struct{ m *fleet.Manager }

func (s slaves) AdmitSlave(id, secret, peer string) error { return s.m.AdmitSlave(id, secret, peer) }

func (s slaves) ServeSlave(ctx context.Context, id, build, peer string, c link.SlaveConn) {
	s.m.ServeSlave(ctx, id, build, peer, c)
}

// startAgent joins the manager, when taskmasterd is a fleet agent. It
// runs until stopAgent; the jobs never depend on it.
func (d *daemon) startAgent() {
	c := d.cfg.Fleet
	if c.Join == "" {
		return
	}
	a := &fleet.Agent{
		Manager: c.Join, ID: c.AgentID, Secret: c.Secret, Trust: c.Trust, Build: version.Version,
		Ops: control.New(d.sup, d.cfg.JobsDir), Events: d.sup,
		PingInterval: c.Ping, Logger: d.log,
	}
	if d.cfg.LoadJobs {
		a.JobsDir = d.cfg.JobsDir // job files from the manager's -fleet-jobs
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.agentStop = cancel
	d.agentDone = make(chan struct{})
	d.log.Info("fleet agent joining", "manager", c.Join, "id", c.AgentID)
	if c.Trust.Insecure {
		d.log.Warn("-fleet-insecure: the manager's certificate is not checked; anyone on the path can pose as the manager")
	}
	go func() {
		defer close(d.agentDone)
		a.Run(ctx)
	}()
}

// stopAgent leaves the manager (Bye) and waits for the agent to end.
func (d *daemon) stopAgent() {
	if d.agentStop == nil {
		return
	}
	d.agentStop()
	<-d.agentDone
}

// checkFleet rejects a fleet configuration taskmasterd cannot run.
func (c FleetConfig) check() error {
	if c.Listen != "" && c.Join != "" {
		return errors.New("-fleet-listen and -join: a taskmasterd is a manager or an agent, not both")
	}
	return nil
}
