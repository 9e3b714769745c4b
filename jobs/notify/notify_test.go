package notify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func newHub(t *testing.T) *Hub {
	t.Helper()
	h, err := NewHub(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, h.Close()) })
	return h
}

// send sends one datagram to the socket at path, as sd_notify does.
func send(t *testing.T, path, msg string) {
	t.Helper()
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte(msg))
	require.NoError(t, err)
}

func TestSocketReceivesAndMerges(t *testing.T) {
	h := newHub(t)
	told := make(chan struct{}, 10)
	s, err := h.Socket(-1, -1, func() { told <- struct{}{} })
	require.NoError(t, err)
	require.Equal(t, h.Dir(), filepath.Dir(s.Path()))

	send(t, s.Path(), "STATUS=starting\n")
	<-told
	send(t, s.Path(), "WATCHDOG=1")
	send(t, s.Path(), "STATUS=ready soon\nREADY=1\nMAINPID=42\n")
	// Until Take, later messages are merged into the pending one, and
	// tell is not called again.
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pending.Ready
	}, 5*time.Second, time.Millisecond)
	require.Empty(t, told)
	m, ok := s.Take()
	require.True(t, ok)
	require.Equal(t, Message{Ready: true, Watchdog: true, HasStatus: true, Status: "ready soon"}, m)
	_, ok = s.Take()
	require.False(t, ok)

	send(t, s.Path(), "READY=1")
	<-told
}

func TestSocketModeAndOwner(t *testing.T) {
	h := newHub(t)
	s, err := h.Socket(4242, 4343, func() {})
	require.NoError(t, err)
	fi, err := os.Stat(s.Path())
	require.NoError(t, err)
	require.Equal(t, os.ModeSocket|0o600, fi.Mode())
	st := fi.Sys().(*syscall.Stat_t)
	require.Equal(t, []uint32{4242, 4343}, []uint32{st.Uid, st.Gid})
	dir, err := os.Stat(h.Dir())
	require.NoError(t, err)
	require.Equal(t, os.ModeDir|0o711, dir.Mode())
	require.Len(t, filepath.Base(s.Path()), nameLen)

	s.Close()
	_, err = os.Stat(s.Path())
	require.ErrorIs(t, err, os.ErrNotExist)
	s.Close() // twice is fine
}

func TestSocketDropsPassedDescriptors(t *testing.T) {
	h := newHub(t)
	told := make(chan struct{}, 1)
	s, err := h.Socket(-1, -1, func() { told <- struct{}{} })
	require.NoError(t, err)
	f, err := os.Open(os.DevNull)
	require.NoError(t, err)
	defer f.Close()
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(c)
	before := openFDs(t)
	err = unix.Sendmsg(c, []byte("FDSTORE=1\nREADY=1"), unix.UnixRights(int(f.Fd())), &unix.SockaddrUnix{Name: s.Path()}, 0)
	require.NoError(t, err)
	<-told
	m, _ := s.Take()
	require.True(t, m.Ready)
	require.Equal(t, before, openFDs(t), "a descriptor passed to the socket was kept")
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

func TestPipeReadyOnNewline(t *testing.T) {
	h := newHub(t)
	ready := make(chan struct{}, 1)
	_, w, err := h.Pipe(func() { ready <- struct{}{} })
	require.NoError(t, err)
	defer unix.Close(w)
	_, err = unix.Write(w, []byte("not yet"))
	require.NoError(t, err)
	require.Never(t, func() bool { return len(ready) > 0 }, 50*time.Millisecond, 5*time.Millisecond)
	_, err = unix.Write(w, []byte("\n"))
	require.NoError(t, err)
	<-ready
}

func TestPipeClosedWithoutNewlineIsNotReady(t *testing.T) {
	h := newHub(t)
	ready := make(chan struct{}, 1)
	p, w, err := h.Pipe(func() { ready <- struct{}{} })
	require.NoError(t, err)
	_, err = unix.Write(w, []byte("bye"))
	require.NoError(t, err)
	require.NoError(t, unix.Close(w))
	require.Eventually(t, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.sources[p.id] == nil
	}, 5*time.Second, time.Millisecond, "the ended pipe is forgotten")
	require.Empty(t, ready)
}

func TestCloseRemovesTheDirectory(t *testing.T) {
	h, err := NewHub(t.TempDir())
	require.NoError(t, err)
	_, err = h.Socket(-1, -1, func() {})
	require.NoError(t, err)
	require.NoError(t, h.Close())
	_, err = os.Stat(h.Dir())
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = h.Socket(-1, -1, func() {})
	require.Error(t, err)
}

func TestNewHubFallsBack(t *testing.T) {
	long := "/" + strings.Repeat("x", 120)
	h, err := NewHub(long, "/nonexistent/dir", t.TempDir())
	require.NoError(t, err)
	defer h.Close()
	_, err = NewHub(long, "/nonexistent/dir")
	require.ErrorContains(t, err, "no directory for notify sockets")
	require.ErrorContains(t, err, "too long for unix socket paths")
}

func TestParse(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Message
	}{
		{"READY=1", Message{Ready: true}},
		{"READY=0", Message{}},
		{"READY=1\nSTATUS=Processing requests...\n", Message{Ready: true, HasStatus: true, Status: "Processing requests..."}},
		{"WATCHDOG=1", Message{Watchdog: true}},
		{"WATCHDOG=trigger", Message{WatchdogTrigger: true}},
		{"STOPPING=1", Message{Stopping: true}},
		{"STATUS=", Message{HasStatus: true}},
		{"STATUS=a\tb\x01c", Message{HasStatus: true, Status: "a b c"}},
		{"garbage\n=\nREADY", Message{}},
		{"STATUS=" + strings.Repeat("é", 200), Message{HasStatus: true, Status: strings.Repeat("é", MaxStatus/2) + "..."}},
	} {
		require.Equal(t, tt.want, Parse([]byte(tt.in)), "%q", tt.in)
	}
}

// A process that floods its socket costs bounded memory (what it sends is
// merged into one pending message, not queued) and its socket can still be
// closed under the flood.
func TestFloodIsMergedAndClosable(t *testing.T) {
	h := newHub(t)
	told := make(chan struct{}, 1)
	s, err := h.Socket(-1, -1, func() {
		select {
		case told <- struct{}{}:
		default:
		}
	})
	require.NoError(t, err)
	c, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	require.NoError(t, err)
	defer unix.Close(c)
	stop := make(chan struct{})
	flooding := make(chan struct{})
	go func() {
		defer close(flooding)
		addr := &unix.SockaddrUnix{Name: s.Path()}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := unix.Sendto(c, []byte("STATUS="+strconv.Itoa(i)), 0, addr); err != nil {
				return // closed under it
			}
		}
	}()
	<-told
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited for a flood to stop")
	}
	close(stop)
	<-flooding
	m, ok := s.Take()
	require.True(t, ok)
	require.True(t, m.HasStatus)
}
