package jobs

import (
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// newTestInstance returns instance 0 of a job with spec, as the supervisor
// would create it, after applying edit to the spec.
func newTestInstance(rt *fakeRT, edit func(*jobfile.Spec)) *instance {
	spec := testSpec("web")
	if edit != nil {
		edit(spec)
	}
	j := newJob("web", rt.now())
	j.spec = spec
	return j.resize(rt.now())[0]
}

// Moves that bring an instance into a state, as tests' "from" steps.
func started(in *instance, rt *fakeRT)  { in.requestStart(); in.start(rt) }
func running(in *instance, rt *fakeRT)  { started(in, rt); rt.clock.Advance(in.spec.StartTime) }
func stopping(in *instance, rt *fakeRT) { running(in, rt); in.stop(rt, whyStopRequest) }
func backoff(in *instance, rt *fakeRT)  { started(in, rt); in.exited(rt, exitStatus(1)) }

// withReady gives a spec a ready check with a 30s deadline.
func withReady(s *jobfile.Spec) {
	s.Ready = &jobfile.Probe{Kind: jobfile.ProbeTCP, Addr: "127.0.0.1:1", Interval: time.Second, Timeout: time.Second, Deadline: 30 * time.Second}
}

func TestInstanceTransitions(t *testing.T) {
	type tc struct {
		name     string
		spec     func(*jobfile.Spec)
		from     func(*instance, *fakeRT)
		event    func(*instance, *fakeRT)
		want     State
		signals  []syscall.Signal // sent to the group by the event
		timers   []time.Duration  // armed after the event
		failures int
		restarts int
		// leftovers: the event handed the group of the process that ended
		// over to be stopped apart ("leftovers": "stop")
		leftovers bool
	}
	tests := []tc{
		{name: "start arms starttime", event: started, want: Starting, timers: []time.Duration{time.Second}},
		{name: "starttime 0 is RUNNING at once", spec: func(s *jobfile.Spec) { s.StartTime = 0 },
			event: started, want: Running},
		{name: "starttime elapsed", from: started, event: func(in *instance, rt *fakeRT) { rt.clock.Advance(time.Second) },
			want: Running},
		{name: "spawn error backs off", event: func(in *instance, rt *fakeRT) { rt.spawnErr = errSpawn; started(in, rt) },
			want: Backoff, failures: 1, timers: []time.Duration{250 * time.Millisecond}},
		{name: "death before starttime backs off", from: started,
			event: func(in *instance, rt *fakeRT) { in.exited(rt, exitStatus(0)) },
			want:  Backoff, failures: 1, timers: []time.Duration{250 * time.Millisecond}, leftovers: true},
		{name: "retry delay grows", from: backoff,
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(250 * time.Millisecond); in.exited(rt, exitStatus(1)) },
			want:  Backoff, failures: 2, restarts: 1, timers: []time.Duration{500 * time.Millisecond}, leftovers: true},
		{name: "startretries exhausted is FATAL", spec: func(s *jobfile.Spec) { s.StartRetries = 0 }, from: started,
			event: func(in *instance, rt *fakeRT) { in.exited(rt, exitStatus(1)) }, want: Fatal, failures: 1, leftovers: true},
		{name: "expected exit is EXITED", from: running,
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(time.Minute); in.exited(rt, exitStatus(0)) },
			want:  Exited, leftovers: true},
		{name: "unexpected exit after a while restarts", from: running,
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(time.Minute); in.exited(rt, exitStatus(3)) },
			want:  Starting, restarts: 1, timers: []time.Duration{time.Second}, leftovers: true},
		{name: "death by signal is unexpected", from: running,
			event: func(in *instance, rt *fakeRT) {
				rt.clock.Advance(time.Minute)
				in.exited(rt, signalStatus(syscall.SIGSEGV))
			},
			want: Starting, restarts: 1, timers: []time.Duration{time.Second}, leftovers: true},
		{name: "autorestart false keeps an unexpected exit", spec: func(s *jobfile.Spec) { s.AutoRestart = jobfile.RestartNever },
			from:  running,
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(time.Minute); in.exited(rt, exitStatus(3)) },
			want:  Exited, leftovers: true},
		{name: "autorestart true restarts an expected exit", spec: func(s *jobfile.Spec) { s.AutoRestart = jobfile.RestartAlways },
			from:  running,
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(time.Minute); in.exited(rt, exitStatus(0)) },
			want:  Starting, restarts: 1, timers: []time.Duration{time.Second}, leftovers: true},
		{name: "starttime 0 crash loop counts as failed starts",
			spec: func(s *jobfile.Spec) { s.StartTime = 0; s.AutoRestart = jobfile.RestartAlways }, from: started,
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(10 * time.Millisecond); in.exited(rt, exitStatus(0)) },
			want:  Backoff, failures: 1, timers: []time.Duration{250 * time.Millisecond}, leftovers: true},
		{name: "leftovers keep: an exit leaves the group alone",
			spec: func(s *jobfile.Spec) { s.Leftovers = jobfile.LeftoversKeep }, from: running,
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(time.Minute); in.exited(rt, exitStatus(0)) },
			want:  Exited},
		{name: "leftovers keep: a restart leaves the group alone",
			spec: func(s *jobfile.Spec) { s.Leftovers = jobfile.LeftoversKeep }, from: running,
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(time.Minute); in.exited(rt, exitStatus(3)) },
			want:  Starting, restarts: 1, timers: []time.Duration{time.Second}},
		{name: "leftovers keep: a crash before starttime leaves the group alone",
			spec: func(s *jobfile.Spec) { s.Leftovers = jobfile.LeftoversKeep }, from: started,
			event: func(in *instance, rt *fakeRT) { in.exited(rt, exitStatus(1)) },
			want:  Backoff, failures: 1, timers: []time.Duration{250 * time.Millisecond}},
		{name: "stop sends stopsignal and arms stoptime", spec: func(s *jobfile.Spec) { s.StopSignal = syscall.SIGUSR2 },
			from: running, event: func(in *instance, rt *fakeRT) { in.stop(rt, whyStopRequest) },
			want: Stopping, signals: []syscall.Signal{syscall.SIGUSR2}, timers: []time.Duration{5 * time.Second}},
		{name: "stop of a STARTING process", from: started, event: func(in *instance, rt *fakeRT) { in.stop(rt, whyStopRequest) },
			want: Stopping, signals: []syscall.Signal{syscall.SIGTERM}, timers: []time.Duration{5 * time.Second}},
		{name: "group gone with its leader: STOPPED", from: stopping,
			event: func(in *instance, rt *fakeRT) { in.exited(rt, signalStatus(syscall.SIGTERM)) }, want: Stopped},
		{name: "leader gone, group left: still STOPPING", from: stopping,
			event: func(in *instance, rt *fakeRT) { rt.alive[in.pgid] = true; in.exited(rt, exitStatus(0)) },
			want:  Stopping, timers: []time.Duration{5 * time.Second}},
		{name: "rest of the group gone: STOPPED",
			from: func(in *instance, rt *fakeRT) {
				stopping(in, rt)
				rt.alive[in.pgid] = true
				in.exited(rt, exitStatus(0))
			},
			event: func(in *instance, rt *fakeRT) { rt.alive = map[int]bool{}; in.groupChanged(rt) }, want: Stopped},
		{name: "stoptime elapsed: SIGKILL, then wait for the group", from: stopping,
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(5 * time.Second) },
			want:  Stopping, signals: []syscall.Signal{syscall.SIGKILL}, timers: []time.Duration{killGrace}},
		{name: "stoptime elapsed with the leader gone: SIGKILL the rest of the group",
			from: func(in *instance, rt *fakeRT) {
				stopping(in, rt)
				rt.alive[in.pgid] = true
				in.exited(rt, exitStatus(0))
			},
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(5 * time.Second) },
			want:  Stopping, signals: []syscall.Signal{syscall.SIGKILL}, timers: []time.Duration{killGrace}},
		{name: "SIGKILLed group gone: STOPPED",
			from: func(in *instance, rt *fakeRT) {
				stopping(in, rt)
				rt.alive[in.pgid] = true
				in.exited(rt, exitStatus(0))
				rt.clock.Advance(5 * time.Second)
			},
			event: func(in *instance, rt *fakeRT) { rt.alive = map[int]bool{}; in.groupChanged(rt) }, want: Stopped},
		{name: "SIGKILLed group still there after killGrace: STOPPED anyway",
			from: func(in *instance, rt *fakeRT) {
				stopping(in, rt)
				rt.alive[in.pgid] = true
				in.exited(rt, exitStatus(0))
				rt.clock.Advance(5 * time.Second)
			},
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(killGrace) }, want: Stopped},
		{name: "a leader SIGKILLed with its group left waits for the group", from: stopping,
			event: func(in *instance, rt *fakeRT) {
				rt.clock.Advance(5 * time.Second)
				rt.alive[in.pgid] = true
				in.exited(rt, signalStatus(syscall.SIGKILL))
			},
			want: Stopping, signals: []syscall.Signal{syscall.SIGKILL}, timers: []time.Duration{killGrace}},
		{name: "retry timer spawns", from: backoff, event: func(in *instance, rt *fakeRT) { rt.clock.Advance(time.Second) },
			want: Starting, failures: 1, restarts: 1, timers: []time.Duration{time.Second}},
		{name: "stop in BACKOFF cancels the retry", from: backoff, event: func(in *instance, rt *fakeRT) { in.stop(rt, whyStopRequest) },
			want: Stopped, failures: 1},
		{name: "kill sends SIGKILL at once", from: running, event: func(in *instance, rt *fakeRT) { in.kill(rt, whyKillRequest) },
			want: Stopping, signals: []syscall.Signal{syscall.SIGKILL}, timers: []time.Duration{killGrace}},
		{name: "no autorestart while stopping", from: running,
			event: func(in *instance, rt *fakeRT) {
				rt.stopping = true
				rt.clock.Advance(time.Minute)
				in.exited(rt, exitStatus(3))
			},
			want: Stopped, leftovers: true},
		{name: "no retry while stopping", from: started,
			event: func(in *instance, rt *fakeRT) { rt.stopping = true; in.exited(rt, exitStatus(1)) },
			want:  Stopped, failures: 1, leftovers: true},
		{name: "start while STOPPING starts again once stopped", from: stopping,
			event: func(in *instance, rt *fakeRT) {
				in.requestStart()
				in.exited(rt, signalStatus(syscall.SIGTERM))
				require.True(t, in.pending)
			},
			want: Stopped},
		{name: "ready: STARTING without starttime, until the deadline", spec: withReady,
			event: started, want: Starting, timers: []time.Duration{30 * time.Second}},
		{name: "ready: no deadline arms nothing", spec: func(s *jobfile.Spec) { withReady(s); s.Ready.Deadline = 0 },
			event: started, want: Starting},
		{name: "ready: starttime 0 still waits for ready", spec: func(s *jobfile.Spec) { withReady(s); s.StartTime = 0 },
			event: started, want: Starting, timers: []time.Duration{30 * time.Second}},
		{name: "ready: passed is RUNNING", spec: withReady, from: started,
			event: func(in *instance, rt *fakeRT) { in.becomeReady(rt, "ready") }, want: Running},
		{name: "ready: deadline stops the process", spec: withReady, from: started,
			event: func(in *instance, rt *fakeRT) { rt.clock.Advance(30 * time.Second) },
			want:  Stopping, signals: []syscall.Signal{syscall.SIGTERM}, timers: []time.Duration{5 * time.Second}},
		{name: "ready: after the deadline's stop, a failed start", spec: withReady,
			from:  func(in *instance, rt *fakeRT) { started(in, rt); rt.clock.Advance(30 * time.Second) },
			event: func(in *instance, rt *fakeRT) { in.exited(rt, signalStatus(syscall.SIGTERM)) },
			want:  Backoff, failures: 1, timers: []time.Duration{250 * time.Millisecond}},
		{name: "ready: a stop during the deadline's stop is a stop", spec: withReady,
			from: func(in *instance, rt *fakeRT) { started(in, rt); rt.clock.Advance(30 * time.Second) },
			event: func(in *instance, rt *fakeRT) {
				in.stop(rt, whyStopRequest)
				in.exited(rt, signalStatus(syscall.SIGTERM))
			},
			want: Stopped},
		{name: "unhealthy: stopped", from: running,
			event: func(in *instance, rt *fakeRT) { in.stopThen(rt, "unhealthy", thenRestart) },
			want:  Stopping, signals: []syscall.Signal{syscall.SIGTERM}, timers: []time.Duration{5 * time.Second}},
		{name: "unhealthy: then restarted",
			from:  func(in *instance, rt *fakeRT) { running(in, rt); in.stopThen(rt, "unhealthy", thenRestart) },
			event: func(in *instance, rt *fakeRT) { in.exited(rt, signalStatus(syscall.SIGTERM)) },
			want:  Starting, restarts: 1, timers: []time.Duration{time.Second}},
		{name: "unhealthy: no restart while stopping", from: running,
			event: func(in *instance, rt *fakeRT) {
				in.stopThen(rt, "unhealthy", thenRestart)
				rt.stopping = true
				in.exited(rt, signalStatus(syscall.SIGTERM))
			},
			want: Stopped, signals: []syscall.Signal{syscall.SIGTERM}},
		{name: "a start after FATAL resets the counters",
			spec:  func(s *jobfile.Spec) { s.StartRetries = 0 },
			from:  func(in *instance, rt *fakeRT) { started(in, rt); in.exited(rt, exitStatus(1)) },
			event: started, want: Starting, timers: []time.Duration{time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := newFakeRT()
			in := newTestInstance(rt, tt.spec)
			if tt.from != nil {
				tt.from(in, rt)
			}
			rt.signals, rt.leftovers = nil, nil
			pgid := in.pgid
			tt.event(in, rt)
			require.Equal(t, tt.want, in.state, "detail: %s", in.detail)
			var sigs []syscall.Signal
			for _, s := range rt.signals {
				require.Equal(t, in.pgidOr(s.pgid), s.pgid, "signal sent to another group")
				sigs = append(sigs, s.sig)
			}
			require.Equal(t, tt.signals, sigs)
			require.Equal(t, tt.timers, rt.clock.pending())
			require.Equal(t, tt.failures, in.failures)
			require.Equal(t, tt.restarts, in.restarts)
			if tt.leftovers {
				require.Len(t, rt.leftovers, 1)
				if pgid != 0 { // else the event started the process that ended
					require.Equal(t, pgid, rt.leftovers[0], "the ended process's group")
				}
			} else {
				require.Empty(t, rt.leftovers)
			}
		})
	}
}

// pgidOr returns the instance's process group, or want when the group is
// already forgotten (the instance is STOPPED).
func (in *instance) pgidOr(want int) int {
	if in.pgid == 0 {
		return want
	}
	return in.pgid
}

func TestStaleTimerIsIgnored(t *testing.T) {
	rt := newFakeRT()
	in := newTestInstance(rt, nil)
	started(in, rt)
	seq := in.timerSeq
	in.stop(rt, whyStopRequest) // re-arms for stoptime
	in.timerFired(rt, seq)
	require.Equal(t, Stopping, in.state, "the starttime timer fired after the stop")
}

func TestStartRetriesMeansOnePlusRetriesAttempts(t *testing.T) {
	for _, retries := range []int{0, 1, 3} {
		rt := newFakeRT()
		in := newTestInstance(rt, func(s *jobfile.Spec) { s.StartRetries = retries })
		started(in, rt)
		for in.state != Fatal {
			require.Equal(t, Starting, in.state)
			in.exited(rt, exitStatus(1))
			rt.clock.Advance(time.Minute) // retry timer
		}
		require.Len(t, rt.spawned, retries+1, "startretries=%d", retries)
	}
}

func TestBackoffDelayGrowsAndIsCapped(t *testing.T) {
	require.Equal(t, 250*time.Millisecond, backoffDelay(1))
	require.Equal(t, 500*time.Millisecond, backoffDelay(2))
	require.Equal(t, 2*time.Second, backoffDelay(4))
	require.Equal(t, backoffMax, backoffDelay(12))
	require.Equal(t, backoffMax, backoffDelay(1000))
}

// With starttime 0 and autorestart true, a program that exits at once must
// slow down and end in FATAL, not restart forever (supervisord issue 1285).
func TestCrashLoopWithStarttimeZeroEndsInFatal(t *testing.T) {
	rt := newFakeRT()
	in := newTestInstance(rt, func(s *jobfile.Spec) {
		s.StartTime = 0
		s.AutoRestart = jobfile.RestartAlways
	})
	started(in, rt)
	var waited time.Duration
	for in.state != Fatal {
		require.Equal(t, Running, in.state)
		in.exited(rt, exitStatus(0))
		if in.state == Backoff {
			d := rt.clock.pending()[0]
			waited += d
			rt.clock.Advance(d)
		}
	}
	require.Len(t, rt.spawned, 4)
	require.Equal(t, (250+500+1000)*time.Millisecond, waited)
}

// A restart does not wait for what the old process left in its group: the
// new process leads a group of its own at once, and the old group is
// stopped apart, with nothing the instance waits for.
func TestRestartDoesNotWaitForLeftovers(t *testing.T) {
	rt := newFakeRT()
	in := newTestInstance(rt, func(s *jobfile.Spec) { s.StartTime = 0; s.AutoRestart = jobfile.RestartAlways })
	started(in, rt)
	old := in.pgid
	rt.alive[old] = true // a background child lives on
	rt.clock.Advance(time.Minute)
	in.exited(rt, exitStatus(0))
	require.Equal(t, Running, in.state)
	require.NotEqual(t, old, in.pgid)
	require.Equal(t, in.pid, in.pgid, "the new process leads its own group")
	require.Equal(t, []int{old}, rt.leftovers)
	require.Empty(t, rt.signals, "the instance signals no group: the leftovers are the runtime's to stop")
	require.Equal(t, "restarted after exit status 0 (restart 1)", in.detail)

	// A stop now is the new group's only.
	in.stop(rt, whyStopRequest)
	require.Equal(t, []sent{{in.pgid, syscall.SIGTERM}}, rt.signals)
	require.Equal(t, "sent SIGTERM: stop requested", in.detail)
}
