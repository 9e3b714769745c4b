package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// header describes the run: when, what was measured, on what machine,
// and startLoad, the load average when the run began.
func (b *bench) header(quick bool, startLoad string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# taskmaster benchmarks\n\n")
	if quick {
		fmt.Fprintf(&sb, "**-quick run: too few and too short runs to quote.**\n\n")
	}
	fmt.Fprintf(&sb, "Run %s (UTC) by `make bench`.\n\n", time.Now().UTC().Format("2006-01-02 15:04"))
	fmt.Fprintf(&sb, "| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&sb, "| %s | %s |\n", k, v) }
	row("taskmasterd", firstLine(b.taskmasterd, "-version")+" ("+gitDescribe(b.root)+")")
	row("supervisord", firstLine(b.supervisord, "--version")+" (Python: "+firstLine("/usr/bin/python3", "--version")+")")
	row("tini", firstLine(b.tini, "--version")+" (`"+b.tini+"`)")
	row("CPU", cpuModel())
	row("cores", fmt.Sprint(runtime.NumCPU()))
	row("memory", memTotal())
	row("kernel", kernel())
	row("OS", osRelease())
	row("Go", runtime.Version())
	row("load average at start", startLoad)
	return sb.String()
}

// loadAverage returns the 1, 5 and 15 minute load averages: other work on
// the machine during the run shows here.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// firstLine runs a command and returns the first line of its output.
func firstLine(argv ...string) string {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}

func gitDescribe(dir string) string {
	cmd := exec.Command("git", "describe", "--tags", "--always", "--dirty")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "no git"
	}
	return "git " + strings.TrimSpace(string(out))
}

// cpuModel returns the CPU's model name, and whether it is a virtual
// machine's.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown"
	}
	model, virtual := "unknown", false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "model name":
			model = strings.TrimSpace(v)
		case "flags":
			virtual = virtual || strings.Contains(" "+v+" ", " hypervisor ")
		}
	}
	if virtual {
		model += " (virtual machine)"
	}
	return model
}

func memTotal() string {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "unknown"
	}
	kb, ok := field(b, "MemTotal:")
	if !ok {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
}

func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return "Linux " + unix.ByteSliceToString(u.Release[:])
}

func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
			name := strings.Trim(v, `"`)
			if d, err := os.ReadFile("/etc/debian_version"); err == nil {
				name += " (" + strings.TrimSpace(string(d)) + ")"
			}
			return name
		}
	}
	return "unknown"
}
