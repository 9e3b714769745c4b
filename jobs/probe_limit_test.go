package jobs

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/jobs/jobfile"
)

// A job's service answers its http check with a header that never ends:
// the check gives up after maxCheckHeader bytes instead of buffering
// whatever comes until its timeout (taskmasterd's memory is not the job's
// to fill).
func TestHTTPCheckReadsABoundedAnswer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	written := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			written <- -1
			return
		}
		defer c.Close()
		_, _ = bufio.NewReader(c).ReadString('\n') // the request line
		var n int64
		m, _ := c.Write([]byte("HTTP/1.1 200 OK\r\nX-Flood: "))
		n += int64(m)
		chunk := []byte(strings.Repeat("a", 64<<10))
		for { // until the check hangs up
			m, err := c.Write(chunk)
			n += int64(m)
			if err != nil {
				break
			}
		}
		written <- n
	}()
	// The timeout is not what ends it: the test fails long before.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	spec := &jobfile.Probe{Kind: jobfile.ProbeHTTP, URL: "http://" + l.Addr().String() + "/", StatusMin: 200, StatusMax: 399, Timeout: time.Minute}
	err = httpCheck(ctx, spec)
	require.ErrorContains(t, err, "header is over")
	// What the kernel buffers on both sides of a loopback connection is a
	// few MiB at most; unbounded reading would take gigabytes.
	require.Less(t, <-written, int64(32<<20))
}
