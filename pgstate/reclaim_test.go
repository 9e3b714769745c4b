package pgstate

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/internal/procfs"
)

// oldJob is a process group the test starts as a previous taskmasterd
// would have: a shell script leading a group of its own.
type oldJob struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func startOldJob(t *testing.T, script string) *oldJob {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	require.NoError(t, cmd.Start())
	j := &oldJob{cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(j.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-j.done
	})
	return j
}

func (j *oldJob) pid() int { return j.cmd.Process.Pid }

// entry is the journal entry of the job, as its start recorded it.
func (j *oldJob) entry(t *testing.T, stopTime time.Duration) Entry {
	t.Helper()
	st, err := procfs.ReadStat("/proc", j.pid())
	require.NoError(t, err)
	id, err := readIdentity("/proc")
	require.NoError(t, err)
	return Entry{Boot: id.boot, PidNS: id.pidNS, Pgid: j.pid(), Pid: j.pid(), Start: st.Start,
		Instance: "web:0", StopSignal: syscall.SIGTERM, StopTime: stopTime}
}

// waitReady waits until the script has written its ready line to file,
// so that its traps are set and its children started.
func waitReady(t *testing.T, file string) {
	t.Helper()
	require.Eventually(t, func() bool {
		data, _ := os.ReadFile(file)
		return bytes.Contains(data, []byte("ready"))
	}, 5*time.Second, time.Millisecond)
}

// awaitEnd waits until the test has reaped the leader.
func (j *oldJob) awaitEnd(t *testing.T) {
	t.Helper()
	select {
	case <-j.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the leader of the group lives on")
	}
}

func (j *oldJob) ended() bool {
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

func reclaimLogged(t *testing.T, entries ...Entry) ([]Outcome, string) {
	t.Helper()
	var log bytes.Buffer
	out := Reclaim(entries, ReclaimOptions{Logger: slog.New(slog.NewTextHandler(&log, nil))})
	return out, log.String()
}

func TestReclaimStopsAGroupWithItsChildren(t *testing.T) {
	ready := t.TempDir() + "/ready"
	// The leader and a background child, both in the group.
	j := startOldJob(t, `sleep 1000 & echo "child $!" > `+ready+`.child; echo ready > `+ready+`; wait`)
	waitReady(t, ready)
	child, err := os.ReadFile(ready + ".child")
	require.NoError(t, err)
	childPid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(string(child), "child ")))
	require.NoError(t, err)

	start := time.Now()
	out, log := reclaimLogged(t, j.entry(t, time.Minute))
	require.Equal(t, []Outcome{Stopped}, out)
	require.Less(t, time.Since(start), 30*time.Second, "waited for the stoptime instead of the end")
	// Reclaim counts a zombie leader as ended; the test's own Wait reaps
	// it a moment later.
	j.awaitEnd(t)
	_, err = procfs.ReadStat("/proc", childPid)
	require.True(t, err != nil || mustStat(t, childPid).Zombie(), "the child in the group lives on")
	require.Contains(t, log, `msg="stopping a process group left by the previous taskmasterd" instance=web:0 pid=`+strconv.Itoa(j.pid()))
	require.Contains(t, log, `msg="process group of the previous taskmasterd stopped" instance=web:0`)
}

func mustStat(t *testing.T, pid int) procfs.Stat {
	st, err := procfs.ReadStat("/proc", pid)
	if err != nil {
		return procfs.Stat{State: 'Z'} // gone meanwhile
	}
	return st
}

func TestReclaimSIGKILLsAfterStoptime(t *testing.T) {
	ready := t.TempDir() + "/ready"
	// An ignored signal stays ignored across exec: sleep ignores SIGTERM.
	j := startOldJob(t, `trap '' TERM; echo ready > `+ready+`; exec sleep 1000`)
	waitReady(t, ready)
	start := time.Now()
	out, log := reclaimLogged(t, j.entry(t, 300*time.Millisecond))
	require.Equal(t, []Outcome{Killed}, out)
	require.GreaterOrEqual(t, time.Since(start), 300*time.Millisecond)
	<-j.done
	require.Equal(t, syscall.SIGKILL, j.cmd.ProcessState.Sys().(syscall.WaitStatus).Signal())
	require.Contains(t, log, `msg="process group of the previous taskmasterd: SIGKILLed after stoptime"`)
}

// A pid that now names a process started at another time is not the
// recorded one: it is never signalled.
func TestReclaimLeavesAReusedPidAlone(t *testing.T) {
	ready := t.TempDir() + "/ready"
	j := startOldJob(t, `echo ready > `+ready+`; exec sleep 1000`)
	waitReady(t, ready)
	e := j.entry(t, time.Second)
	e.Start-- // recorded for an earlier process with the same pid
	out, log := reclaimLogged(t, e)
	require.Equal(t, []Outcome{Reused}, out)
	require.Contains(t, log, "left alone: the pid is another process's now")
	// Had it been sent SIGTERM, the kernel would have marked it as dying of
	// it already, and SIGKILL now would not change how it ended.
	require.False(t, j.ended())
	require.NoError(t, syscall.Kill(j.pid(), syscall.SIGKILL))
	<-j.done
	require.Equal(t, syscall.SIGKILL, j.cmd.ProcessState.Sys().(syscall.WaitStatus).Signal(), "the process was signalled")
}

func TestReclaimSkipsAGroupAlreadyGone(t *testing.T) {
	j := startOldJob(t, `exit 0`)
	e := Entry{Pgid: j.pid(), Pid: j.pid(), Start: 1, Instance: "web:0", StopSignal: syscall.SIGTERM, StopTime: time.Second}
	<-j.done
	out, _ := reclaimLogged(t, e)
	require.Equal(t, []Outcome{Gone}, out)
}

// Several groups are stopped at once: the time taken is the longest
// stoptime, not their sum.
func TestReclaimStopsGroupsAtOnce(t *testing.T) {
	var entries []Entry
	var jobs []*oldJob
	for i := range 3 {
		ready := t.TempDir() + "/ready"
		j := startOldJob(t, `trap '' TERM; echo ready > `+ready+`; exec sleep 1000`)
		waitReady(t, ready)
		e := j.entry(t, 400*time.Millisecond)
		e.Instance = "web:" + strconv.Itoa(i)
		entries, jobs = append(entries, e), append(jobs, j)
	}
	start := time.Now()
	out, _ := reclaimLogged(t, entries...)
	require.Equal(t, []Outcome{Killed, Killed, Killed}, out)
	require.Less(t, time.Since(start), 1200*time.Millisecond+KillGrace/2)
	for _, j := range jobs {
		<-j.done
	}
}
