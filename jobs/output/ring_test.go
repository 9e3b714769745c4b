package output

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRingSince(t *testing.T) {
	type since struct {
		seq       uint64
		data      string
		next      uint64
		truncated bool
	}
	tests := []struct {
		name     string
		capacity int
		writes   []string
		since    []since
	}{
		{"empty", 8, nil, []since{{0, "", 0, false}, {5, "", 0, true}}},
		{"all kept", 16, []string{"ab\n", "cd\n"}, []since{
			{0, "ab\ncd\n", 6, false},
			{3, "cd\n", 6, false},
			{1, "b\ncd\n", 6, false}, // a seq mid-line is honoured
			{6, "", 6, false},
			{9, "ab\ncd\n", 6, true}, // beyond what was written: from another ring
		}},
		{"exactly full", 6, []string{"ab\n", "cd\n"}, []since{{0, "ab\ncd\n", 6, false}}},
		{"truncated at a line start", 6, []string{"ab\n", "cd\n", "ef\n"}, []since{
			{0, "cd\nef\n", 9, true},
			{2, "cd\nef\n", 9, true},
			{3, "cd\nef\n", 9, false},
		}},
		{"truncated mid-line starts at the next line", 8, []string{"aaa\n", "bb\n", "cc\n"}, []since{
			{0, "bb\ncc\n", 10, true},
			{2, "a\nbb\ncc\n", 10, false},
		}},
		{"truncated just before a newline", 7, []string{"aaa\n", "bb\n", "cc\n"}, []since{
			{0, "bb\ncc\n", 10, true},
			{3, "\nbb\ncc\n", 10, false},
		}},
		{"one write larger than the ring", 5, []string{"aaaa\nbb\ncc\n"}, []since{{0, "cc\n", 11, true}}},
		{"a line longer than the ring is kept mid-line", 4, []string{"x\n", "abcdefgh\n"}, []since{{0, "fgh\n", 11, true}}},
		{"wraps many times", 10, []string{"0123\n", "4567\n", "89ab\n", "cdef\n", "ghij\n"}, []since{
			{0, "cdef\nghij\n", 25, true},
			{20, "ghij\n", 25, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewRing(tt.capacity)
			for _, w := range tt.writes {
				n, err := r.Write([]byte(w))
				require.NoError(t, err)
				require.Equal(t, len(w), n)
			}
			for _, s := range tt.since {
				data, next, truncated := r.Since(s.seq)
				require.Equal(t, s.data, string(data), "Since(%d)", s.seq)
				require.Equal(t, s.next, next, "Since(%d)", s.seq)
				require.Equal(t, s.truncated, truncated, "Since(%d)", s.seq)
			}
		})
	}
}

func TestRingSinceReturnsACopy(t *testing.T) {
	r := NewRing(8)
	_, _ = r.Write([]byte("ab\n"))
	data, _, _ := r.Since(0)
	data[0] = 'X'
	again, _, _ := r.Since(0)
	require.Equal(t, "ab\n", string(again))
}

func TestRingWaitReturnsAtOnceWhenBehind(t *testing.T) {
	r := NewRing(8)
	_, _ = r.Write([]byte("a\n"))
	require.NoError(t, r.Wait(context.Background(), 0))
	require.NoError(t, r.Wait(context.Background(), 1))
}

func TestRingWaitWakesOnWrite(t *testing.T) {
	r := NewRing(8)
	woke := make(chan error, 1)
	go func() { woke <- r.Wait(context.Background(), 0) }()
	_, _ = r.Write([]byte("a\n"))
	select {
	case err := <-woke:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after a write")
	}
}

func TestRingWaitEndsWithContext(t *testing.T) {
	r := NewRing(8)
	_, _ = r.Write([]byte("a\n"))
	ctx, cancel := context.WithCancel(context.Background())
	woke := make(chan error, 1)
	go func() { woke <- r.Wait(ctx, 2) }()
	cancel()
	require.ErrorIs(t, <-woke, context.Canceled)

	ctx, cancel = context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	require.ErrorIs(t, r.Wait(ctx, 2), context.DeadlineExceeded)
}

func TestRingWaitForAFutureSeqSleepsThroughSmallerWrites(t *testing.T) {
	r := NewRing(64)
	// Wait returns at once for any seq behind the ring's end: write first,
	// so that Wait(5) can only sleep.
	for range 5 {
		_, _ = r.Write([]byte("x"))
	}
	woke := make(chan error, 1)
	go func() { woke <- r.Wait(context.Background(), 5) }()
	select {
	case err := <-woke:
		t.Fatalf("Wait(5) returned after 5 bytes: %v", err)
	default:
	}
	_, _ = r.Write([]byte("\n"))
	require.NoError(t, <-woke)
}

// follow reads r as tail -f does until it has want bytes, and returns them.
func follow(ctx context.Context, r *Ring, want int) (string, error) {
	var got strings.Builder
	var seq uint64
	for got.Len() < want {
		if err := r.Wait(ctx, seq); err != nil {
			return got.String(), err
		}
		data, next, truncated := r.Since(seq)
		if truncated {
			return got.String(), fmt.Errorf("truncated at %d", seq)
		}
		got.Write(data)
		seq = next
	}
	return got.String(), nil
}

func TestRingManyFollowers(t *testing.T) {
	const followers, lines = 16, 2000
	var want strings.Builder
	for i := range lines {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	r := NewRing(want.Len()) // large enough that followers never fall behind
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	results := make(chan string, followers)
	errs := make(chan error, followers)
	for range followers {
		wg.Go(func() {
			got, err := follow(ctx, r, want.Len())
			results <- got
			errs <- err
		})
	}
	for i := range lines {
		_, _ = fmt.Fprintf(r, "line %d\n", i) // one write per line: followers wait often
	}
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for got := range results {
		require.Equal(t, want.String(), got)
	}
}

func TestNewRingRejectsNoCapacity(t *testing.T) {
	require.Panics(t, func() { NewRing(0) })
}

// allocated returns how many bytes r's buffer holds.
func (r *Ring) allocated() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.buf)
}

func TestRingAllocatesAsItIsWritten(t *testing.T) {
	r := NewRing(DefaultRingCapacity)
	require.Zero(t, r.allocated(), "an unwritten ring holds no buffer")
	_, _ = r.Write([]byte("hello\n"))
	require.Equal(t, minRingBuffer, r.allocated())

	sizes := []int{r.allocated()}
	line := []byte(strings.Repeat("x", 99) + "\n")
	for range 2 * DefaultRingCapacity / len(line) {
		_, _ = r.Write(line)
		if n := r.allocated(); n != sizes[len(sizes)-1] {
			sizes = append(sizes, n)
		}
	}
	require.Equal(t, []int{512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, DefaultRingCapacity + 1}, sizes,
		"the buffer doubles up to capacity+1, then stays")
}

func TestRingFirstWriteLargerThanCapacity(t *testing.T) {
	r := NewRing(1000)
	big := strings.Repeat("y", 5000) + "\nz\n"
	_, _ = r.Write([]byte(big))
	require.Equal(t, 1001, r.allocated())
	data, next, truncated := r.Since(0)
	require.Equal(t, "z\n", string(data))
	require.Equal(t, uint64(len(big)), next)
	require.True(t, truncated)
}

// A ring that grows as it is written must answer exactly as one allocated
// in full up front, before, across and after the growth and the first wrap.
func TestRingGrowingMatchesFullRing(t *testing.T) {
	for _, capacity := range []int{1, 7, 511, 512, 513, 1000, 3000} {
		t.Run(fmt.Sprint(capacity), func(t *testing.T) {
			lazy := NewRing(capacity)
			full := NewRing(capacity)
			full.buf = make([]byte, full.size)
			var total uint64
			for i := range 300 {
				// Lines of 1 to 70 bytes, some writes several lines long.
				var w strings.Builder
				for range 1 + i%3 {
					w.WriteString(strings.Repeat(string(rune('a'+i%26)), i*7%70) + "\n")
				}
				_, _ = lazy.Write([]byte(w.String()))
				_, _ = full.Write([]byte(w.String()))
				total += uint64(w.Len())
				for _, seq := range []uint64{0, 1, total / 2, total - min(total, uint64(capacity)), total - 1, total, total + 1} {
					wantData, wantNext, wantTrunc := full.Since(seq)
					data, next, trunc := lazy.Since(seq)
					require.Equal(t, string(wantData), string(data), "write %d, Since(%d)", i, seq)
					require.Equal(t, wantNext, next)
					require.Equal(t, wantTrunc, trunc)
				}
			}
			require.Equal(t, capacity+1, lazy.allocated())
		})
	}
}
