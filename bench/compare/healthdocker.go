package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dockerHealthfile is the image of Docker's half of the health section:
// busybox alone (also as /bin/true, which nc -e runs for each connection),
// listening on 8080, checked by a HEALTHCHECK that connects at the
// interval filled in.
const dockerHealthfile = `FROM scratch
COPY busybox /bin/busybox
COPY busybox /bin/true
ENTRYPOINT ["/bin/busybox", "nc", "-ll", "-p", "8080", "-e", "/bin/true"]
HEALTHCHECK --interval=%s --timeout=1s --retries=3 CMD ["/bin/busybox", "nc", "127.0.0.1", "8080"]
`

// dockerPerContainer is how many of the b.healthN checks a second each
// container makes: Docker's cost is one exec in a container per check,
// whichever container it is, and starting and removing a container is
// most of the section's time (about 0.7 s of dockerd each), so a quarter
// of the containers, each checked four times as often, make the same
// checks in a quarter of the time.
const dockerPerContainer = 4

// dockerShape returns how many containers Docker's half runs, and the
// HEALTHCHECK interval that makes their checks b.healthN a second.
func (b *bench) dockerShape() (containers int, interval time.Duration) {
	containers = max(1, b.healthN/dockerPerContainer)
	return containers, time.Second * time.Duration(containers) / time.Duration(b.healthN)
}

// dockerHealth runs the containers of dockerShape, whose HEALTHCHECKs
// make b.healthN checks a second, waits until each has been checked, and
// measures Docker over the window.
// It returns an error, and the section notes it, when Docker cannot be
// used.
func (b *bench) dockerHealth(ctx context.Context) (healthSample, error) {
	if _, err := exec.LookPath("docker"); err != nil {
		return healthSample{}, fmt.Errorf("no docker CLI in PATH")
	}
	if err := exec.CommandContext(ctx, "docker", "info").Run(); err != nil {
		return healthSample{}, errNoDocker
	}
	if _, err := os.Stat(busybox); err != nil {
		return healthSample{}, fmt.Errorf("no %s (make deps installs busybox-static)", busybox)
	}
	run := fmt.Sprintf("taskmaster.bench=%d", os.Getpid())
	tag := fmt.Sprintf("taskmaster-bench-health:%d", os.Getpid())
	defer dockerCleanup(run, tag)
	containers, interval := b.dockerShape()
	if err := buildHealthImage(ctx, b.tmp, tag, run, interval); err != nil {
		return healthSample{}, err
	}
	ids, err := runContainers(ctx, tag, run, containers)
	if err != nil {
		return healthSample{}, err
	}
	if err := waitChecked(ctx, run, len(ids)); err != nil {
		return healthSample{}, err
	}
	if err := sleep(ctx, b.settle); err != nil {
		return healthSample{}, err
	}
	daemons, shims := dockerPids(ids)
	if len(daemons) == 0 || len(shims) != len(ids) {
		return healthSample{}, fmt.Errorf("found %d of dockerd and containerd, %d shims for %d containers", len(daemons), len(shims), len(ids))
	}
	d0, s0 := ticksOf(daemons), ticksOf(shims)
	t0 := time.Now()
	if err := sleep(ctx, b.healthWindow); err != nil {
		return healthSample{}, err
	}
	d1, s1 := ticksOf(daemons), ticksOf(shims)
	sample := healthSample{name: "docker HEALTHCHECK", checks: fmt.Sprintf("`HEALTHCHECK` `busybox nc 127.0.0.1 8080` every %v in %d containers", interval, containers),
		elapsed: time.Since(t0), self: d1 - d0, children: s1 - s0}
	// Docker's cost is what it is whether it keeps up or not; say how
	// many containers were healthy at the end.
	if healthy := countHealth(ctx, run, "healthy"); healthy != len(ids) {
		sample.checks += fmt.Sprintf(" (%d of %d containers healthy at the end of the window: the checks did not keep up)", healthy, len(ids))
	}
	return sample, nil
}

func buildHealthImage(ctx context.Context, tmp, tag, label string, interval time.Duration) error {
	dir, err := os.MkdirTemp(tmp, "docker-health-")
	if err != nil {
		return err
	}
	data, err := os.ReadFile(busybox)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "busybox"), data, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(fmt.Sprintf(dockerHealthfile, interval)), 0o644); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "docker", "build", "-q", "--label", label, "-t", tag, dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker build: %v: %s", err, out)
	}
	return nil
}

// runContainers starts n containers of tag, a few at a time.
func runContainers(ctx context.Context, tag, label string, n int) ([]string, error) {
	ids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				out, err := exec.CommandContext(ctx, "docker", "run", "-d", "--label", label, "--network", "none", tag).CombinedOutput()
				if err != nil {
					errs[i] = fmt.Errorf("docker run: %v: %s", err, out)
					continue
				}
				ids[i] = strings.TrimSpace(string(out))
			}
		})
	}
	for i := range n {
		if i%50 == 0 {
			progress("health: docker: starting container %d of %d", i+1, n)
		}
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// waitChecked waits until every one of the n containers labelled label has
// a verdict (no longer "starting"): every HEALTHCHECK runs.
func waitChecked(ctx context.Context, label string, n int) error {
	deadline := time.Now().Add(10 * time.Minute)
	for {
		healthy, unhealthy := countHealth(ctx, label, "healthy"), countHealth(ctx, label, "unhealthy")
		if healthy+unhealthy == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d containers checked after 10 minutes", healthy+unhealthy, n)
		}
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
	}
}

// countHealth counts the containers labelled label whose health is health.
func countHealth(ctx context.Context, label, health string) int {
	out, _ := exec.CommandContext(ctx, "docker", "ps", "-q", "--filter", "label="+label, "--filter", "health="+health).Output()
	return len(strings.Fields(string(out)))
}

// dockerPids finds dockerd and containerd, and the containerd-shim of each
// of ids.
func dockerPids(ids []string) (daemons, shims []int) {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		switch strings.TrimSpace(string(comm)) {
		case "dockerd", "containerd":
			daemons = append(daemons, pid)
		case "containerd-shim":
			cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			args := strings.Split(string(cmdline), "\x00")
			for i, a := range args {
				if a == "-id" && i+1 < len(args) && want[args[i+1]] {
					shims = append(shims, pid)
				}
			}
		}
	}
	return daemons, shims
}

// ticksOf sums the CPU ticks of pids and of the children they reaped.
func ticksOf(pids []int) uint64 {
	var sum uint64
	for _, pid := range pids {
		self, kids, err := cpuTicksWithChildren(pid)
		if err == nil {
			sum += self + kids
		}
	}
	return sum
}

// dockerCleanup removes every container labelled label, and the image.
func dockerCleanup(label, tag string) {
	out, _ := exec.Command("docker", "ps", "-aq", "--filter", "label="+label).Output()
	if ids := strings.Fields(string(out)); len(ids) > 0 {
		progress("health: docker: removing %d containers", len(ids))
		_ = exec.Command("docker", append([]string{"rm", "-f"}, ids...)...).Run()
	}
	_ = exec.Command("docker", "rmi", "-f", tag).Run()
}
