package metrics

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	dto "github.com/prometheus/client_model/go"
)

// userHZ is the unit of the CPU times of /proc/PID/stat: USER_HZ, 100 on
// every Linux architecture Go supports.
const userHZ = 100

// processFamilies are the standard process_* and go_* metrics, named and
// defined as the Go client's collectors name and define them, so that
// dashboards made for those work. A value that cannot be read is left out.
func processFamilies() []*dto.MetricFamily {
	var fams []*dto.MetricFamily
	if st, ok := readSelfStat(); ok {
		cpu := counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.")
		add(cpu, st.cpuSeconds)
		rss := gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
		add(rss, st.rssBytes)
		vsz := gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.")
		add(vsz, st.virtualBytes)
		fams = append(fams, cpu, rss, vsz)
		if boot, ok := bootTime(); ok {
			start := gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
			add(start, boot+st.startTicks/userHZ)
			fams = append(fams, start)
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		open := gauge("process_open_fds", "Number of open file descriptors.")
		add(open, float64(len(fds)-1)) // less the one ReadDir had open
		fams = append(fams, open)
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		maxFDs := gauge("process_max_fds", "Maximum number of open file descriptors.")
		add(maxFDs, float64(lim.Cur))
		fams = append(fams, maxFDs)
	}
	return append(fams, goFamilies()...)
}

// goFamilies are the Go runtime's: goroutines, threads and the heap.
func goFamilies() []*dto.MetricFamily {
	goroutines := gauge("go_goroutines", "Number of goroutines that currently exist.")
	add(goroutines, float64(runtime.NumGoroutine()))
	threads := gauge("go_threads", "Number of OS threads created.")
	n, _ := runtime.ThreadCreateProfile(nil)
	add(threads, float64(n))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap := gauge("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and currently in use.")
	add(heap, float64(ms.HeapAlloc))
	sys := gauge("go_memstats_sys_bytes", "Number of bytes obtained from system.")
	add(sys, float64(ms.Sys))
	gcs := counter("go_gc_cycles_total", "Number of completed GC cycles.")
	add(gcs, float64(ms.NumGC))
	info := gauge("go_info", "Information about the Go environment.")
	add(info, 1, "version", runtime.Version())
	return []*dto.MetricFamily{goroutines, threads, heap, sys, gcs, info}
}

// selfStat is what the metrics use of /proc/self/stat.
type selfStat struct {
	cpuSeconds   float64
	startTicks   float64 // since boot, in USER_HZ
	virtualBytes float64
	rssBytes     float64
}

// readSelfStat reads /proc/self/stat (proc(5)).
func readSelfStat() (selfStat, bool) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return selfStat{}, false
	}
	// The fields after the command, which is in parentheses and may hold
	// any byte: the first of them (state) is field 3 of proc(5).
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return selfStat{}, false
	}
	f := strings.Fields(string(data[i+1:]))
	field := func(n int) float64 { // proc(5)'s numbering
		if n-3 >= len(f) {
			return 0
		}
		v, _ := strconv.ParseFloat(f[n-3], 64)
		return v
	}
	return selfStat{
		cpuSeconds:   (field(14) + field(15)) / userHZ, // utime, stime
		startTicks:   field(22),
		virtualBytes: field(23),
		rssBytes:     field(24) * float64(os.Getpagesize()),
	}, len(f) >= 22
}

// bootTime reads the time the machine booted, in seconds since the epoch,
// from /proc/stat's btime.
func bootTime() (float64, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			bt, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return bt, err == nil
		}
	}
	return 0, false
}
