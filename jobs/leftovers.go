package jobs

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// leftoverGroup is what is left of the process group of a process that
// ended on its own ("leftovers": "stop"): children it started and did not
// wait for. They got the job's stopsignal, and get SIGKILL if still there
// after its stoptime. The group is stopped apart from its instance, which
// may already run its next process, in a group of its own.
type leftoverGroup struct {
	owner  *instance
	pgid   int
	timer  Timer
	killed bool // SIGKILL sent: the timer now bounds the wait for the group to go
}

// leftoverTimer is the firing of a leftover group's timer.
type leftoverTimer struct{ g *leftoverGroup }

// stopLeftovers sends the stopsignal of in's job to what is left of group
// pgid, whose leader has just ended, and arms its stoptime.
func (s *Supervisor) stopLeftovers(in *instance, pgid int) {
	if !s.groupAlive(pgid) {
		return // the usual case: the process left nothing behind
	}
	if old := s.leftovers[pgid]; old != nil {
		// The number came back as a new group: the old one is gone.
		s.dropLeftovers(old)
	}
	sig := in.spec.StopSignal
	s.signalLeftovers(pgid, sig)
	g := &leftoverGroup{owner: in, pgid: pgid}
	s.leftovers[pgid] = g
	s.log.Info("stopping leftover processes of an ended process", "instance", in.name, "pgid", pgid,
		"signal", jobfile.SignalName(sig), "stoptime", in.spec.StopTime)
	g.timer = s.clock.AfterFunc(in.spec.StopTime, func() { s.post(leftoverTimer{g}) })
}

// signalLeftovers signals group pgid, and never its leader's pid on its
// own as signalGroup may: the leader is gone, and its pid may be another
// process's by now.
func (s *Supervisor) signalLeftovers(pgid int, sig syscall.Signal) {
	err := s.cfg.Kill(-pgid, sig)
	if err != nil && !errors.Is(err, syscall.ESRCH) {
		s.log.Warn("cannot signal leftover processes", "pgid", pgid, "signal", jobfile.SignalName(sig), "err", err)
	}
}

// leftoverTimerFired SIGKILLs a group still there after stoptime, or gives
// up on one still there killGrace after SIGKILL.
func (s *Supervisor) leftoverTimerFired(g *leftoverGroup) {
	if s.leftovers[g.pgid] != g {
		return // gone meanwhile
	}
	g.timer = nil
	switch {
	case !s.leftoversAlive(g):
		s.dropLeftovers(g)
	case g.killed:
		s.log.Warn("leftover processes still there after SIGKILL", "instance", g.owner.name, "pgid", g.pgid, "waited", killGrace)
		s.dropLeftovers(g)
	default:
		s.killLeftovers(g, fmt.Sprintf("after stoptime %v", g.owner.spec.StopTime))
	}
}

// killLeftovers sends SIGKILL to a leftover group and gives it killGrace
// to disappear.
func (s *Supervisor) killLeftovers(g *leftoverGroup, why string) {
	if g.killed {
		return
	}
	s.signalLeftovers(g.pgid, syscall.SIGKILL)
	g.killed = true
	s.log.Warn("SIGKILLed leftover processes "+why, "instance", g.owner.name, "pgid", g.pgid)
	if s.shutting {
		s.killedLeftovers = append(s.killedLeftovers, g.owner.name)
	}
	if g.timer != nil {
		g.timer.Stop()
	}
	g.timer = s.clock.AfterFunc(killGrace, func() { s.post(leftoverTimer{g}) })
}

// leftoversAlive reports whether g still has members. A group number that
// an instance leads again is a new group: the old one is gone (the kernel
// reuses no number still in use as a group).
func (s *Supervisor) leftoversAlive(g *leftoverGroup) bool {
	if !s.groupAlive(g.pgid) {
		return false
	}
	for _, j := range s.jobs {
		for _, in := range j.insts {
			if in.pgid == g.pgid {
				return false
			}
		}
	}
	return true
}

func (s *Supervisor) dropLeftovers(g *leftoverGroup) {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	if s.leftovers[g.pgid] == g {
		delete(s.leftovers, g.pgid)
	}
	s.log.Debug("leftover processes gone", "instance", g.owner.name, "pgid", g.pgid)
}

// leftoversChanged forgets the leftover groups that are gone; it runs after
// processes were reaped (leftovers are taskmasterd's to reap, as a
// subreaper or PID 1, once their parent has ended).
func (s *Supervisor) leftoversChanged() {
	for _, g := range s.leftovers {
		if !s.groupAlive(g.pgid) {
			s.dropLeftovers(g)
		}
	}
}

// leftoversOf reports whether one of ins still has a leftover group being
// stopped: a stop or kill of them is over only once those are gone too.
func (s *Supervisor) leftoversOf(ins []*instance) bool {
	for _, g := range s.leftovers {
		for _, in := range ins {
			if g.owner == in {
				return true
			}
		}
	}
	return false
}

// killLeftoversOf SIGKILLs the leftover groups of ins at once.
func (s *Supervisor) killLeftoversOf(ins []*instance, why string) {
	for _, g := range s.leftovers {
		for _, in := range ins {
			if g.owner == in {
				s.killLeftovers(g, why)
			}
		}
	}
}

// killAllLeftovers SIGKILLs every leftover group at once.
func (s *Supervisor) killAllLeftovers(why string) {
	for _, g := range s.leftovers {
		s.killLeftovers(g, why)
	}
}
