package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/taskmaster/taskmaster/ctlproto"
)

// The health section: what health checks cost. b.healthN instances, each
// checked every second, measured over a window of b.healthWindow, one
// setup at a time:
//
//   - taskmasterd's tcp check (in taskmasterd: a connect, no process);
//   - taskmasterd's exec check of busybox nc (a process per check, through
//     the reaper), the check Docker's HEALTHCHECK would run;
//   - taskmasterd with ready checks only, once they passed: nothing runs,
//     so 0 ticks;
//   - Docker's own HEALTHCHECK of the same nc, b.healthN checks a second
//     (dockerShape: fewer containers, each checked more often).
//
// The checks connect to listeners of the benchmark's own (one per
// instance), so that what answers them costs taskmasterd nothing; Docker's
// containers each run their own listener (busybox nc), since a container's
// HEALTHCHECK can only reach it from inside.

// busybox is the program of the exec checks and of Docker's containers.
const busybox = "/bin/busybox"

// healthSample is what one setup used over the window.
type healthSample struct {
	name     string
	checks   string        // what is checked, for the report
	elapsed  time.Duration // the window
	self     uint64        // ticks of taskmasterd itself (Docker: of dockerd and containerd)
	children uint64        // ticks of the processes it reaped meanwhile: exec checks (Docker: the shims and what they reaped)
	note     string
}

// cpu is the sample's CPU time, its processes' and theirs reaped.
func (s healthSample) cpu() time.Duration {
	return time.Duration(s.self+s.children) * clockTick
}

func (b *bench) health(ctx context.Context) (string, error) {
	ports, stop, err := listeners(b.healthN)
	if err != nil {
		return "", err
	}
	defer stop()
	var samples []healthSample
	for _, s := range b.healthSetups(ports) {
		progress("health: %s, %d instances, %v window", s.name, b.healthN, b.healthWindow)
		sample, err := b.healthRun(ctx, s)
		if err != nil {
			return "", err
		}
		samples = append(samples, sample)
	}
	containers, interval := b.dockerShape()
	progress("health: docker HEALTHCHECK, %d containers, every %v", containers, interval)
	dockerSample, err := b.dockerHealth(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		progress("health: docker skipped: %v", err)
		dockerSample = healthSample{name: "docker HEALTHCHECK", note: "not measured: " + err.Error()}
	}
	samples = append(samples, dockerSample)
	b.healthChecks(samples)
	return b.healthReport(samples), nil
}

// healthSetup is taskmasterd with one kind of checks.
type healthSetup struct {
	name, checks string
	files        map[string]string
	healthy      func(p statusProcess) bool // every instance must be so before the window
}

// healthSetups are the taskmasterd setups, one job per instance (a check
// names one address, and each instance has its own).
func (b *bench) healthSetups(ports []int) []healthSetup {
	jobs := func(check func(port int) string) map[string]string {
		files := map[string]string{}
		for i, port := range ports {
			files[fmt.Sprintf("h%03d", i)] = fmt.Sprintf(`{"cmd":%q,"starttime":0,%s}`, sleeper, check(port))
		}
		return files
	}
	healthy := func(p statusProcess) bool { return p.Health == "healthy" }
	setups := []healthSetup{{
		name: "taskmasterd, tcp health check", checks: "`tcp` every 1 s",
		files:   jobs(func(port int) string { return fmt.Sprintf(`"health":{"tcp":"127.0.0.1:%d","interval":1}`, port) }),
		healthy: healthy,
	}}
	if _, err := os.Stat(busybox); err == nil {
		setups = append(setups, healthSetup{
			name: "taskmasterd, exec health check", checks: "`exec` `busybox nc 127.0.0.1 PORT` every 1 s",
			files: jobs(func(port int) string {
				return fmt.Sprintf(`"health":{"exec":[%q,"nc","127.0.0.1","%d"],"interval":1}`, busybox, port)
			}),
			healthy: healthy,
		})
	}
	return append(setups, healthSetup{
		name: "taskmasterd, tcp ready check passed", checks: "`ready` `tcp`, passed; no `health`",
		files:   jobs(func(port int) string { return fmt.Sprintf(`"ready":{"tcp":"127.0.0.1:%d"}`, port) }),
		healthy: func(p statusProcess) bool { return p.State == "RUNNING" },
	})
}

// healthRun starts one setup, waits until every instance is healthy and
// b.settle more, and measures taskmasterd over the window.
func (b *bench) healthRun(ctx context.Context, s healthSetup) (healthSample, error) {
	sup, err := b.startTaskmasterd(s.name, s.files, nil)
	if err != nil {
		return healthSample{}, err
	}
	defer sup.stop()
	if err := waitAll(ctx, sup, b.healthN, s.healthy); err != nil {
		return healthSample{}, err
	}
	if err := sleep(ctx, b.settle); err != nil {
		return healthSample{}, err
	}
	self0, kids0, err := cpuTicksWithChildren(sup.pid)
	if err != nil {
		return healthSample{}, err
	}
	t0 := time.Now()
	if err := sleep(ctx, b.healthWindow); err != nil {
		return healthSample{}, err
	}
	self1, kids1, err := cpuTicksWithChildren(sup.pid)
	if err != nil {
		return healthSample{}, err
	}
	sample := healthSample{name: s.name, checks: s.checks, elapsed: time.Since(t0), self: self1 - self0, children: kids1 - kids0}
	if err := sup.alive(); err != nil {
		return healthSample{}, err
	}
	// Still healthy at the end: the checks ran and passed all along.
	if err := waitAll(ctx, sup, b.healthN, s.healthy); err != nil {
		return healthSample{}, err
	}
	return sample, nil
}

// statusProcess is what the health section reads of a process's status.
type statusProcess struct {
	State  string `json:"state"`
	Health string `json:"health"`
}

// waitAll waits until n processes of sup satisfy ok.
func waitAll(ctx context.Context, sup *supervisor, n int, ok func(statusProcess) bool) error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err := countProcesses(ctx, sup, ok)
		if err == nil && got == n {
			return nil
		}
		if err := sup.alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d of %d processes ready after 2 minutes (%v)%s", sup.name, got, n, err, sup.logTail())
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// countProcesses asks taskmasterd how many of its processes satisfy ok.
func countProcesses(ctx context.Context, s *supervisor, ok func(statusProcess) bool) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := ctlproto.Dial(ctx, s.addr, "")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	resp, err := c.Do(ctx, &ctlproto.Request{Command: ctlproto.CmdStatus})
	if err != nil {
		return 0, err
	}
	var all struct {
		Jobs []struct{ Processes []statusProcess }
	}
	if err := json.Unmarshal(resp.Data, &all); err != nil {
		return 0, fmt.Errorf("status reply %s %q: %w", resp.Kind, resp.Data, err)
	}
	n := 0
	for _, j := range all.Jobs {
		for _, p := range j.Processes {
			if ok(p) {
				n++
			}
		}
	}
	return n, nil
}

// listeners listens on n loopback ports and closes every connection at
// once; stop closes them.
func listeners(n int) (ports []int, stop func(), err error) {
	var ls []net.Listener
	stop = func() {
		for _, l := range ls {
			l.Close()
		}
	}
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			stop()
			return nil, nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	return ports, stop, nil
}

// cpuTicksWithChildren returns utime+stime of pid, and cutime+cstime: the
// ticks of the children it has reaped.
func cpuTicksWithChildren(pid int) (self, children uint64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, fmt.Errorf("pid %d: malformed stat", pid)
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("pid %d: short stat", pid)
	}
	var v [4]uint64
	for k := range v { // utime, stime, cutime, cstime: f[11] to f[14]
		if v[k], err = strconv.ParseUint(f[11+k], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("pid %d: stat field %d: %w", pid, 14+k, err)
		}
	}
	return v[0] + v[1], v[2] + v[3], nil
}

// healthChecks records the section's targets.
func (b *bench) healthChecks(samples []healthSample) {
	byName := map[string]healthSample{}
	for _, s := range samples {
		byName[s.name] = s
	}
	if s, ok := byName["taskmasterd, tcp health check"]; ok {
		share := s.cpu().Seconds() / s.elapsed.Seconds()
		b.check(fmt.Sprintf("%d tcp health checks a second under 2%% of a core", b.healthN), share < 0.02,
			"%s%% (%s ms of CPU in %s s)", num(share*100), num(float64(s.cpu().Milliseconds())), num(s.elapsed.Seconds()))
	}
	if s, ok := byName["taskmasterd, tcp ready check passed"]; ok {
		b.check(fmt.Sprintf("zero CPU ticks once %d ready checks have passed (%g s)", b.healthN, b.healthWindow.Seconds()),
			s.self+s.children == 0, "%d ticks", s.self+s.children)
	}
	tm, ok1 := byName["taskmasterd, exec health check"]
	dk, ok2 := byName["docker HEALTHCHECK"]
	if ok1 && ok2 && dk.note == "" {
		b.check(fmt.Sprintf("%d exec health checks: taskmasterd under Docker's HEALTHCHECK", b.healthN), tm.cpu() < dk.cpu(),
			"%s ms against %s ms", num(float64(tm.cpu().Milliseconds())), num(float64(dk.cpu().Milliseconds())))
	}
}

// healthReport is the section's text.
func (b *bench) healthReport(samples []healthSample) string {
	containers, interval := b.dockerShape()
	var sb strings.Builder
	sb.WriteString("## 11. Health checks\n\n")
	fmt.Fprintf(&sb, "**CPU time of health checks**: %d instances, each checked every second, measured over a window of %s s once every instance was healthy (and %g s more), one setup at a time. Each taskmasterd instance is `%s` in a job of its own, checked against a listener of the benchmark's own on a port of its own (which closes each connection at once), so that what answers costs taskmasterd nothing. CPU is utime + stime from `/proc/PID/stat` in ticks of %v: taskmasterd's own, and that of the processes it reaped in the window (`cutime` + `cstime`: the exec checks). For Docker: `dockerd` and `containerd` (which serve every container of the machine, others' too), and the `containerd-shim` of each container with what it reaped (the `runc exec` and the check of each HEALTHCHECK); each container (`FROM scratch` with busybox, `--network none`) runs `busybox nc -ll -p 8080 -e /bin/true` and `HEALTHCHECK --interval=%v CMD [\"/bin/busybox\", \"nc\", \"127.0.0.1\", \"8080\"]`: Docker's HEALTHCHECK can only run a command in the container. Docker makes the same %d checks a second in %d containers, each checked every %v: its cost is one exec in a container per check, whichever container it is, and starting and removing containers (about 0.7 s of dockerd each) was most of the section's time.\n\n",
		b.healthN, num(b.healthWindow.Seconds()), b.settle.Seconds(), sleeper, clockTick, interval, b.healthN, containers, interval)
	sb.WriteString("| setup | checks | CPU ms (daemon) | CPU ms (reaped: checks) | CPU ms total | % of a core | µs per check |\n|---|---|---|---|---|---|---|\n")
	for _, s := range samples {
		if s.note != "" {
			fmt.Fprintf(&sb, "| %s | | | | | | %s |\n", s.name, s.note)
			continue
		}
		secs := s.elapsed.Seconds()
		total := s.cpu().Seconds()
		perCheck := "–"
		if !strings.Contains(s.name, "ready check passed") {
			perCheck = num(total * 1e6 / (float64(b.healthN) * secs))
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %s | %s | %s | %s |\n", s.name, s.checks,
			num(float64(s.self)*float64(clockTick.Milliseconds())), num(float64(s.children)*float64(clockTick.Milliseconds())),
			num(total*1e3), num(total/secs*100), perCheck)
	}
	sb.WriteString("\nThe checks share one timer in taskmasterd, armed for the earliest one due; a job without checks, or whose ready checks have passed, arms none (the last taskmasterd row, and the idle row of the footprint section).\n")
	return sb.String()
}

// errNoDocker says that no Docker Engine answers.
var errNoDocker = errors.New("no Docker Engine answers (docker info failed)")
