package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
	"github.com/taskmaster/taskmaster/jobs/notify"
)

// Health is what an instance's health check says of its process.
type Health uint8

// The health states. An instance without a health check, or without a
// process under check, has HealthNone.
const (
	HealthNone      Health = iota
	HealthChecking         // RUNNING, no check has finished yet
	HealthHealthy          // the last check passed, or fewer than retries failed in a row
	HealthUnhealthy        // retries checks in a row failed
)

var healthNames = [...]string{"", "checking", "healthy", "unhealthy"}

// String returns the state as status shows it ("" for HealthNone).
func (h Health) String() string {
	if int(h) >= len(healthNames) {
		return "unknown"
	}
	return healthNames[h]
}

// checks is what the checks of an instance know of its current process.
// Only the supervisor goroutine touches it.
type checks struct {
	readyProbe  *prober // runs the ready check while STARTING
	healthProbe *prober // runs the health check while RUNNING
	watchdog    *alarm  // the deadline for the next WATCHDOG=1, while RUNNING
	health      Health
	failures    int    // health checks failed in a row
	lastError   string // why the last check failed; "" once one passes
	status      string // the last STATUS= the process sent
	sock        *notify.Socket
	pipe        *notify.Pipe
}

// checkKind says which check a prober runs.
type checkKind uint8

const (
	readyCheck checkKind = iota
	healthCheck
)

func (k checkKind) String() string {
	if k == healthCheck {
		return "health"
	}
	return "ready"
}

// prober runs one check of one process again and again: its next alarm
// starts a run; the end of a run sets the next alarm.
type prober struct {
	in   *instance
	kind checkKind
	gen  uint64 // the process it checks
	next *alarm
	run  *checkRun // the run under way, if any
}

// spec is the check the prober runs: the ready check the process started
// with, or the job's current health check (a reload may change it).
func (p *prober) spec() *jobfile.Probe {
	if p.kind == readyCheck {
		return p.in.ready
	}
	return p.in.spec.Health
}

// resetChecks forgets the checks of the instance's last process, before
// it starts another: it runs on every spawn.
func (s *Supervisor) resetChecks(in *instance) {
	c := &in.chk
	s.stopProber(&c.readyProbe)
	s.stopProber(&c.healthProbe)
	s.clearAlarm(c.watchdog)
	s.closeNotify(in)
	*c = checks{}
}

// follow starts and stops the instance's checks as its state changes:
// the ready check runs while it is STARTING, the health check and the
// watchdog while it is RUNNING, and its notify socket lives as long as its
// process. It runs on every change of the instance (Supervisor.changed).
func (s *Supervisor) follow(in *instance) {
	c := &in.chk
	if in.state != Starting {
		s.stopProber(&c.readyProbe)
	}
	if in.state != Running || in.spec.Health == nil {
		s.stopProber(&c.healthProbe)
		c.health, c.failures = HealthNone, 0
	}
	if in.state != Running {
		s.clearAlarm(c.watchdog)
	}
	if !in.state.hasProcess() {
		s.closeNotify(in)
	}
	switch {
	case in.state == Starting && in.ready.Polled() && c.readyProbe == nil:
		// The first run at once: a quick process is ready at once.
		c.readyProbe = s.startProber(in, readyCheck, in.ready.Interval)
		s.startRun(c.readyProbe, s.now())
	case in.state == Running:
		if in.spec.Health != nil && c.healthProbe == nil {
			c.health, c.lastError = HealthChecking, ""
			c.healthProbe = s.startProber(in, healthCheck, in.spec.Health.Interval)
		}
		if wd := in.watchdogPeriod(); wd > 0 && !c.watchdog.set() {
			if c.watchdog == nil {
				gen := in.gen
				c.watchdog = newAlarm(func() { s.watchdogExpired(in, gen) })
			}
			s.setAlarm(c.watchdog, s.now().Add(wd))
		}
	}
}

// watchdogPeriod is how often the process must send WATCHDOG=1, or 0.
func (in *instance) watchdogPeriod() time.Duration {
	if in.ready == nil || in.ready.Kind != jobfile.ProbeNotify {
		return 0
	}
	return in.ready.Watchdog
}

// startProber starts running a check of in's process, the first time
// after first (unless the caller runs it before).
func (s *Supervisor) startProber(in *instance, kind checkKind, first time.Duration) *prober {
	p := &prober{in: in, kind: kind, gen: in.gen}
	p.next = newAlarm(func() { s.startRun(p, p.next.due) })
	s.setAlarm(p.next, inSlot(s.now().Add(first), checkSlot(p.spec().Interval)))
	return p
}

// stopProber stops a prober: its alarms are cleared, and the run under
// way, if any, is forgotten (an exec check is killed).
func (s *Supervisor) stopProber(pp **prober) {
	p := *pp
	if p == nil {
		return
	}
	*pp = nil
	s.clearAlarm(p.next)
	if r := p.run; r != nil {
		p.run = nil
		s.abandonRun(r)
	}
}

// current reports whether p is still a prober of its instance.
func (p *prober) current() bool {
	c := &p.in.chk
	return p.gen == p.in.gen && (c.readyProbe == p || c.healthProbe == p)
}

// runDone handles the outcome of a run: err is nil when the check passed.
func (s *Supervisor) runDone(r *checkRun, err error) {
	p := r.p
	if p.run != r || !p.current() {
		return // the prober stopped or moved on meanwhile
	}
	p.run = nil
	if err != nil {
		p.in.job.stats.CheckFailures++
	}
	switch p.kind {
	case readyCheck:
		s.readyResult(p, r, err)
	case healthCheck:
		s.healthResult(p, err)
	}
	if sp := p.spec(); sp != nil && p.current() {
		// A check starts every interval (from when it was due, so that
		// checks due together stay together); one that took longer than
		// that is followed by the next an interval after it ended.
		next := r.started.Add(sp.Interval)
		if now := s.now(); next.Before(now) {
			next = now.Add(sp.Interval)
		}
		s.setAlarm(p.next, inSlot(next, checkSlot(sp.Interval)))
	}
}

func (s *Supervisor) readyResult(p *prober, r *checkRun, err error) {
	in := p.in
	if err == nil {
		in.chk.lastError = ""
		in.becomeReady(s, "ready: "+r.spec.Target())
		return
	}
	s.checkFailed(in, err.Error())
}

// checkFailed records why a check failed, and tells subscribers when the
// reason changed (not on every failure: a service that is down for a
// minute fails the same way sixty times).
func (s *Supervisor) checkFailed(in *instance, why string) {
	c := &in.chk
	if c.lastError == why {
		return
	}
	c.lastError = why
	s.publishInstance(in, in.state)
}

func (s *Supervisor) healthResult(p *prober, err error) {
	in := p.in
	c := &in.chk
	spec := in.spec.Health
	if err == nil {
		was := c.health
		c.health, c.failures, c.lastError = HealthHealthy, 0, ""
		if was != HealthHealthy {
			s.healthChanged(in, was)
		}
		return
	}
	c.failures++
	c.lastError = err.Error()
	if c.failures < spec.Retries || c.health == HealthUnhealthy {
		s.publishInstance(in, in.state)
		return
	}
	was := c.health
	c.health = HealthUnhealthy
	s.healthChanged(in, was)
	if spec.Unhealthy == jobfile.UnhealthyRestart {
		in.stopThen(s, fmt.Sprintf("unhealthy: %d health checks failed in a row (%s)", c.failures, c.lastError), thenRestart)
	}
}

// healthChanged logs and publishes a change of the instance's health.
func (s *Supervisor) healthChanged(in *instance, was Health) {
	s.publishInstance(in, in.state)
	c := &in.chk
	attrs := []any{"instance", in.name, "from", was.String(), "to", c.health.String(), "pid", in.pid}
	level := slog.LevelInfo
	if c.health == HealthUnhealthy {
		level = slog.LevelWarn
		attrs = append(attrs, "failures", c.failures, "detail", c.lastError)
	}
	s.log.Log(context.Background(), level, "health", attrs...)
}

// watchdogExpired handles a process that did not send WATCHDOG=1 in time,
// or asked to be treated as hung (WATCHDOG=trigger): like an unhealthy
// one, it is restarted, as systemd does.
func (s *Supervisor) watchdogExpired(in *instance, gen uint64) {
	if in.gen != gen || in.state != Running {
		return
	}
	c := &in.chk
	was := c.health
	c.health, c.lastError = HealthUnhealthy, fmt.Sprintf("watchdog: no WATCHDOG=1 within %v", in.watchdogPeriod())
	s.healthChanged(in, was)
	in.stopThen(s, c.lastError, thenRestart)
}
