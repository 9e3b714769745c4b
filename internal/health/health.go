// Package health is the one rule that decides whether a job is healthy as
// a container's health check sees it: `taskmasterctl health` (the image's
// HEALTHCHECK) and taskmasterd's /healthz both apply it, and so do the
// metrics (taskmaster_job_healthy), so that they never disagree.
package health

// Unhealthy is the health status shows for an instance whose health check
// failed retries times in a row.
const Unhealthy = "unhealthy"

// Job is what the rule looks at of one job, as status reports it.
type Job struct {
	FileError string // why the job file on disk is not in use; "" when it is
	Healthy   bool   // every instance is where its settings want it (status' "healthy")
	AutoStart bool   // the job starts on its own
	Critical  bool   // the job is critical
	Unhealthy bool   // an instance failed its health check (an instance's "health" is Unhealthy)
}

// JobOK reports whether a job passes. Its job file must be in use (a typo
// in a job file must not pass for a healthy container). An instance found
// unhealthy by its health check fails the job whatever its autostart: the
// check is there to say so. A critical job, which ends the container when
// it ends, must be where its settings want it. Any other job must be so
// when it starts on its own: a job started only on request may be stopped.
// An instance not yet ready (STARTING, with a ready check) is not where
// its settings want it: a container is healthy once its services are
// ready, which is what compose's condition: service_healthy waits for.
func JobOK(j Job) bool {
	switch {
	case j.FileError != "", j.Unhealthy:
		return false
	case j.Critical:
		return j.Healthy
	}
	return j.Healthy || !j.AutoStart
}
