package jobfile

import (
	"maps"
	"slices"
)

// SameProcess reports whether s and o spawn identical processes: same
// command, umask, working directory, environment, output destinations,
// terminal and user. Reload restarts running processes only when this is
// false; a change of numprocs or of a policy (autorestart, stoptime, ...)
// applies to the processes already running.
func (s *Spec) SameProcess(o *Spec) bool {
	if s == nil || o == nil {
		return s == o
	}
	return slices.Equal(s.Cmd, o.Cmd) &&
		s.Umask == o.Umask &&
		s.WorkingDir == o.WorkingDir &&
		maps.Equal(s.Env, o.Env) &&
		s.Stdout == o.Stdout &&
		s.Stderr == o.Stderr &&
		s.TTY == o.TTY &&
		s.User.Equal(o.User)
}

// Equal reports whether s and o are the same job in every field.
func (s *Spec) Equal(o *Spec) bool {
	if s == nil || o == nil {
		return s == o
	}
	return s.SameProcess(o) &&
		s.Name == o.Name &&
		s.NumProcs == o.NumProcs &&
		s.AutoStart == o.AutoStart &&
		s.AutoRestart == o.AutoRestart &&
		slices.Equal(s.ExitCodes, o.ExitCodes) &&
		s.StartRetries == o.StartRetries &&
		s.StartTime == o.StartTime &&
		s.StopSignal == o.StopSignal &&
		s.StopTime == o.StopTime &&
		s.Leftovers == o.Leftovers &&
		s.Critical == o.Critical &&
		slices.Equal(s.DependsOn, o.DependsOn) &&
		slices.Equal(s.ForwardSignals, o.ForwardSignals) &&
		s.Ready.Equal(o.Ready) &&
		s.Health.Equal(o.Health)
}

// Equal reports whether u and o are the same identity, written the same
// way. Two nil users are equal.
func (u *User) Equal(o *User) bool {
	if u == nil || o == nil {
		return u == o
	}
	return u.Spec == o.Spec && u.UID == o.UID && u.GID == o.GID &&
		slices.Equal(u.Groups, o.Groups) && u.Name == o.Name && u.Home == o.Home
}
