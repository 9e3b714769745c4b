package dirwatch

import (
	"encoding/binary"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestParseMode(t *testing.T) {
	for _, s := range []string{"inotify", "poll", "off"} {
		m, err := ParseMode(s)
		require.NoError(t, err)
		require.Equal(t, Mode(s), m)
	}
	for _, s := range []string{"", "Inotify", "fsnotify"} {
		_, err := ParseMode(s)
		require.Error(t, err, s)
	}
}

func TestOptionsDefaults(t *testing.T) {
	opt, err := Options{}.withDefaults()
	require.NoError(t, err)
	require.Equal(t, Inotify, opt.Mode)
	require.Equal(t, DefaultDebounce, opt.Debounce)
	require.Equal(t, DefaultMaxDelay, opt.MaxDelay)
	require.Equal(t, DefaultPollInterval, opt.PollInterval)
	require.NotNil(t, opt.Logger)

	_, err = Options{Mode: "fast"}.withDefaults()
	require.Error(t, err)
	_, err = Options{Debounce: -1}.withDefaults()
	require.Error(t, err)
}

func TestRelevant(t *testing.T) {
	for name, want := range map[string]bool{
		"web.tm.json":          true,
		"..data":               true,
		"..data_tmp":           true,
		"..2026_1":             true,
		".web.tm.json.tmp-123": false,
		".x.tm.json.tmp":       false,
		".web.tm.json":         false,
		".#web.tm.json":        false,
		"web.tm.json.bak":      false,
		"web.tm.json~":         false,
		"notes.txt":            false,
		"":                     false,
	} {
		require.Equal(t, want, relevant(name), "%q", name)
	}
}

func TestDebouncer(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	tests := []struct {
		name   string
		events []int // milliseconds after t0
		want   int   // when the last add says to notify
	}{
		{"single", []int{0}, 100},
		{"quiet resets", []int{0, 50}, 150},
		{"max delay caps", []int{0, 90, 180, 270, 360, 450, 540, 630, 720, 810, 900, 990}, 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := debouncer{quiet: 100 * time.Millisecond, max: time.Second}
			var at time.Time
			for _, e := range tt.events {
				at = d.add(ms(e))
			}
			require.Equal(t, ms(tt.want), at)
			d.fired()
			require.Equal(t, ms(2100), d.add(ms(2000)), "a new burst starts after fired")
		})
	}
}

func TestEvents(t *testing.T) {
	buf := rawEvent(1, unix.IN_CREATE, "web.tm.json")
	buf = append(buf, rawEvent(2, unix.IN_DELETE_SELF, "")...)
	buf = append(buf, rawEvent(-1, unix.IN_Q_OVERFLOW, "")...)
	var got []event
	for ev := range events(buf) {
		got = append(got, ev)
	}
	require.Equal(t, []event{
		{wd: 1, mask: unix.IN_CREATE, name: "web.tm.json"},
		{wd: 2, mask: unix.IN_DELETE_SELF},
		{wd: -1, mask: unix.IN_Q_OVERFLOW},
	}, got)
}

// rawEvent encodes an event as the kernel does, name padded with NULs.
func rawEvent(wd int32, mask uint32, name string) []byte {
	n := 0
	if name != "" {
		n = (len(name) + 16) &^ 15
	}
	b := make([]byte, unix.SizeofInotifyEvent+n)
	binary.NativeEndian.PutUint32(b[0:], uint32(wd))
	binary.NativeEndian.PutUint32(b[4:], mask)
	binary.NativeEndian.PutUint32(b[12:], uint32(n))
	copy(b[unix.SizeofInotifyEvent:], name)
	return b
}

func TestOverflowAndStaleEvents(t *testing.T) {
	dir := t.TempDir()
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	require.NoError(t, err)
	f := os.NewFile(uintptr(fd), "inotify")
	defer f.Close()
	conn, err := f.SyscallConn()
	require.NoError(t, err)
	w := &Watcher{raw: make(chan struct{}, 1), log: slog.New(slog.DiscardHandler)}
	in := &inotify{w: w, file: f, conn: conn, dir: dir, wd: -1}
	require.NoError(t, in.arm())
	require.Equal(t, dir, in.watched)

	in.handle(event{wd: in.wd + 100, mask: unix.IN_CREATE, name: "web.tm.json"})
	require.Empty(t, w.raw, "an event of a replaced watch is ignored")

	in.handle(event{wd: -1, mask: unix.IN_Q_OVERFLOW})
	require.Len(t, w.raw, 1, "an overflow notifies")
	require.Equal(t, dir, in.watched, "and watches afresh")
}

func TestHint(t *testing.T) {
	require.Contains(t, hint(unix.EMFILE), "max_user_instances")
	require.Contains(t, hint(unix.EMFILE), "-watch poll")
	require.Contains(t, hint(unix.ENOSPC), "max_user_watches")
	require.Empty(t, hint(unix.EACCES))
}

func TestNewErrors(t *testing.T) {
	_, err := New("", Options{})
	require.Error(t, err)
	_, err = New(t.TempDir(), Options{Mode: "fast"})
	require.ErrorContains(t, err, "fast")
	_, err = New("bad\x00name", Options{})
	require.ErrorContains(t, err, "bad\\x00name", "the error names the directory")
}

func TestOffNeverNotifies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w := newWatcher(t, dir, Options{Mode: Off})
	write(t, dir, "web.tm.json", `{}`)
	requireQuiet(t, w, "off mode")
}
