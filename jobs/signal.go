package jobs

import (
	"context"
	"syscall"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// Signal sends sig to the process group of every instance of target that
// has a process, as supervisorctl's signal does: the everyday way to make
// a server reload its configuration. It changes no state: what the signal
// does to the processes (an exit, say) is seen as it would be had anyone
// else sent it. It returns ErrRedundant when no instance has a process.
func (s *Supervisor) Signal(ctx context.Context, target string, sig syscall.Signal) error {
	var sent []string
	var resolveErr error
	err := s.call(func() {
		ins, err := s.resolve(target)
		if err != nil {
			resolveErr = err
			return
		}
		for _, in := range ins {
			if in.state.hasProcess() && in.pgid > 0 {
				s.signalGroup(in.pgid, sig)
				sent = append(sent, in.name)
			}
		}
	})
	switch {
	case err != nil:
		return err
	case resolveErr != nil:
		return resolveErr
	case len(sent) == 0:
		return ErrRedundant
	}
	s.log.Info("signal sent on request", "target", target, "signal", jobfile.SignalName(sig), "instances", sent)
	return nil
}
