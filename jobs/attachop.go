package jobs

import (
	"context"
	"fmt"

	"github.com/taskmaster/taskmaster/jobs/attach"
)

// Attach attaches a client to the process of target: NAME:N, or NAME when
// the job has one instance. The session sees the process's output from now
// on and, for a job with "tty": true, types into its terminal; buffer
// bounds how far behind the output it may fall before it is dropped
// (attach.DefaultBuffer if not positive). It returns the instance's name
// with the session; the caller must Close the session.
func (s *Supervisor) Attach(ctx context.Context, target string, buffer int) (*attach.Session, string, error) {
	var sess *attach.Session
	var name string
	var opErr error
	err := s.call(func() {
		ins, err := s.resolve(target)
		switch {
		case err != nil:
			opErr = err
		case len(ins) != 1:
			opErr = fmt.Errorf("job %s has %d instances: name one, as in %s:0", target, len(ins), target)
		case ins[0].job.interactive:
			opErr = fmt.Errorf("%s runs on taskmasterd's own stdin, stdout and stderr (single-command mode): there is nothing to attach to", ins[0].name)
		case !ins[0].state.hasProcess():
			opErr = fmt.Errorf("%s is %s: %w", ins[0].name, ins[0].state, attach.ErrNotRunning)
		default:
			name = ins[0].name
			if sess, err = ins[0].point.Attach(buffer); err != nil {
				opErr = fmt.Errorf("%s: %w", name, err)
			}
		}
	})
	if err != nil {
		return nil, "", err
	}
	return sess, name, opErr
}
