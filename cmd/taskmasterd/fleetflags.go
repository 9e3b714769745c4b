package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/taskmaster/taskmaster/fleet"
	pid1 "github.com/taskmaster/taskmaster/init"
)

// fleetOptions are the flags of the fleet link (docs/fleet.md).
type fleetOptions struct {
	listen, agents, cert, key string // manager
	jobs                      string
	join, id, secretFile      string // agent
	ca, fingerprint           string
	insecure                  bool
	ping                      time.Duration
	printCert                 bool // -fleet-fingerprint-print
}

func (f *fleetOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "fleet-listen", env("TASKMASTER_FLEET_LISTEN", ""), "fleet manager: TLS address agents join, such as :7790; off by default (TASKMASTER_FLEET_LISTEN)")
	fs.StringVar(&f.agents, "fleet-agents", env("TASKMASTER_FLEET_AGENTS", ""), "fleet manager: JSON file of the agents allowed to join (TASKMASTER_FLEET_AGENTS)")
	fs.StringVar(&f.cert, "fleet-cert", env("TASKMASTER_FLEET_CERT", ""), "fleet manager: PEM certificate; default: one generated in the state directory (TASKMASTER_FLEET_CERT)")
	fs.StringVar(&f.key, "fleet-key", env("TASKMASTER_FLEET_KEY", ""), "fleet manager: PEM key of -fleet-cert (TASKMASTER_FLEET_KEY)")
	fs.StringVar(&f.jobs, "fleet-jobs", env("TASKMASTER_FLEET_JOBS", ""), "fleet manager: directory of job files for the agents: common/ for all, AGENT_ID/ for one (TASKMASTER_FLEET_JOBS)")
	fs.StringVar(&f.join, "join", env("TASKMASTER_JOIN", ""), "fleet agent: HOST[:PORT] of the manager to join (TASKMASTER_JOIN)")
	fs.StringVar(&f.id, "agent-id", env("TASKMASTER_AGENT_ID", ""), "fleet agent: its id; default: the host name (TASKMASTER_AGENT_ID)")
	fs.StringVar(&f.secretFile, "agent-secret-file", env("TASKMASTER_AGENT_SECRET_FILE", ""), "fleet agent: file holding its secret; default: TASKMASTER_AGENT_SECRET (TASKMASTER_AGENT_SECRET_FILE)")
	fs.StringVar(&f.ca, "fleet-ca", env("TASKMASTER_FLEET_CA", ""), "fleet agent: PEM file of the CA (or the certificate) that the manager's certificate must chain to (TASKMASTER_FLEET_CA)")
	fs.StringVar(&f.fingerprint, "fleet-fingerprint", env("TASKMASTER_FLEET_FINGERPRINT", ""), "fleet agent: the manager's certificate, pinned: sha256:HEX as the manager prints it (TASKMASTER_FLEET_FINGERPRINT)")
	fs.BoolVar(&f.insecure, "fleet-insecure", os.Getenv("TASKMASTER_FLEET_INSECURE") == "1", "fleet agent: do not check the manager's certificate (TASKMASTER_FLEET_INSECURE=1)")
	fs.BoolVar(&f.printCert, "fleet-fingerprint-print", false, "fleet manager: print the fingerprint of its certificate (-fleet-cert, or the one in the state directory, generated now if there is none) and exit")
	fs.DurationVar(&f.ping, "fleet-ping", envDuration("TASKMASTER_FLEET_PING", fleet.DefaultPingInterval), "fleet: time between pings; a pong is due within half of it (TASKMASTER_FLEET_PING)")
}

// config turns the fleet flags into pid1.FleetConfig, reading the agents
// file and the secret.
func (f *fleetOptions) config() (pid1.FleetConfig, error) {
	c := pid1.FleetConfig{Ping: f.ping, CertFile: f.cert, KeyFile: f.key}
	if f.ping < 10*time.Millisecond {
		return c, errors.New("-fleet-ping: at least 10ms")
	}
	if f.listen != "" && f.listen != "off" {
		if f.agents == "" {
			return c, errors.New("-fleet-listen needs -fleet-agents FILE: the agents allowed to join")
		}
		rules, err := fleet.LoadRules(f.agents)
		if err != nil {
			return c, err
		}
		c.Listen, c.Rules = f.listen, rules
		if f.jobs != "" {
			if fi, err := os.Stat(f.jobs); err != nil || !fi.IsDir() {
				return c, fmt.Errorf("-fleet-jobs %s: not a directory", f.jobs)
			}
			c.JobsDir = f.jobs
		}
	} else if f.jobs != "" {
		return c, errors.New("-fleet-jobs without -fleet-listen: only a manager hands out job files")
	}
	if f.join == "" || f.join == "off" {
		return c, nil
	}
	return f.agentConfig(c)
}

func (f *fleetOptions) agentConfig(c pid1.FleetConfig) (pid1.FleetConfig, error) {
	addr, err := fleet.JoinAddress(f.join)
	if err != nil {
		return c, err
	}
	c.Join = addr
	c.AgentID = f.id
	if c.AgentID == "" {
		if c.AgentID, err = os.Hostname(); err != nil {
			return c, fmt.Errorf("-agent-id: none given, and no host name: %w", err)
		}
	}
	if err := fleet.ValidID(c.AgentID); err != nil {
		return c, fmt.Errorf("-agent-id: %w", err)
	}
	if c.Secret, err = f.secret(); err != nil {
		return c, err
	}
	c.Trust = fleet.Trust{CAFile: f.ca, Fingerprint: f.fingerprint, Insecure: f.insecure}
	if err := c.Trust.Check(); err != nil {
		return c, err
	}
	return c, nil
}

// secret reads the agent's secret: the file's first line, or
// TASKMASTER_AGENT_SECRET.
func (f *fleetOptions) secret() (string, error) {
	if f.secretFile != "" {
		data, err := os.ReadFile(f.secretFile)
		if err != nil {
			return "", fmt.Errorf("-agent-secret-file: %w", err)
		}
		s, _, _ := strings.Cut(string(data), "\n")
		if s = strings.TrimRight(s, "\r"); s == "" {
			return "", fmt.Errorf("-agent-secret-file %s: empty", f.secretFile)
		}
		return s, nil
	}
	if s := os.Getenv("TASKMASTER_AGENT_SECRET"); s != "" {
		return s, nil
	}
	return "", errors.New("-join needs the agent's secret: -agent-secret-file FILE or TASKMASTER_AGENT_SECRET")
}

// printFingerprint prints the fingerprint of the manager's certificate,
// generating one in the state directory if there is none: a deployment
// can pin it (-fleet-fingerprint) before the manager first starts.
func (f *fleetOptions) printFingerprint(state string, stdout io.Writer) error {
	dir := ""
	if state != "off" && state != "" {
		dir = filepath.Join(state, "fleet")
	}
	cert, err := fleet.ManagerCertificate(f.cert, f.key, dir, nil)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, fleet.Fingerprint(cert.Leaf.Raw))
	return err
}
