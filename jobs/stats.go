package jobs

import "context"

// Stats are the supervisor's counters, for metrics. They only grow, but
// for a job whose file is removed, whose counters go with it.
type Stats struct {
	Jobs       map[string]JobStats // by job name
	FileErrors uint64              // job files found invalid by a reload, counted once per error
}

// JobStats are the counters of one job.
type JobStats struct {
	Exits    uint64 // processes of the job that ended, for whatever reason
	Restarts uint64 // automatic restarts: retries and autorestarts
	// CheckFailures counts the ready and health checks (tcp, http, exec)
	// that failed.
	CheckFailures uint64
}

// Stats returns the supervisor's counters.
func (s *Supervisor) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.call(func() {
		st.FileErrors = s.fileErrors
		st.Jobs = make(map[string]JobStats, len(s.jobs))
		for name, j := range s.jobs {
			st.Jobs[name] = j.stats
		}
	})
	return st, err
}
