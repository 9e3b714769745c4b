package fleet

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskmaster/taskmaster/fleet/fleetpb"
	"github.com/taskmaster/taskmaster/fleet/wire"
)

// byeAfter sends msgs on c (a joined raw agent), then reads until the
// manager's Bye and returns its reason. A manager that keeps the
// connection fails the test at the read's deadline.
func byeAfter(t *testing.T, c *tls.Conn, msgs ...*fleetpb.JobState) string {
	t.Helper()
	frames := make([][]byte, len(msgs))
	for i, js := range msgs {
		frames[i] = mustFrame(t, js)
	}
	r := wire.NewReader(c)
	go func() { // the manager may say bye before it has read all: write apart
		for _, f := range frames {
			if _, err := c.Write(f); err != nil {
				return // closed after the bye
			}
		}
	}()
	for {
		msg, err := r.Read()
		require.NoError(t, err, "no bye")
		if bye := msg.GetBye(); bye != nil {
			return bye.GetReason()
		}
	}
}

// Pieces of statuses whose last piece never comes, each under its own
// name, are bounded together, not per name: an agent cannot fill the
// manager's memory with the beginnings of statuses.
func TestUnfinishedStatusesAreBounded(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	c := m.rawTLS(t)
	hello(t, c, "a", "s")
	piece := strings.Repeat("x", 40)
	var msgs []*fleetpb.JobState
	for i := 0; i*1000*len(piece) <= 2*maxJobStatus; i++ {
		js := &fleetpb.JobState{}
		for j := range 1000 {
			js.Jobs = append(js.Jobs, &fleetpb.JobStatus{Name: fmt.Sprintf("j%d-%d", i, j), Status: piece, More: true})
		}
		msgs = append(msgs, js)
	}
	assert.Contains(t, byeAfter(t, c, msgs...), "protocol error")
	info := m.untilState(t, "a", StateLost)
	assert.Contains(t, info.Reason, "unfinished")
}

// The statuses an agent keeps on the manager are bounded in bytes, not
// only in number: 4096 jobs of 4 MiB each would be 16 GiB.
func TestAgentStatesAreBoundedInBytes(t *testing.T) {
	m := startManager(t, rule("a", "s"))
	c := m.rawTLS(t)
	// Over 32 MiB cross TLS before the bye: under the race detector on a
	// busy machine that takes longer than the usual wait.
	c.SetDeadline(time.Now().Add(6 * wait))
	hello(t, c, "a", "s")
	var msgs []*fleetpb.JobState
	for i := 0; i*(maxJobStatus-1024) <= maxAgentState; i++ {
		name := fmt.Sprintf("big%d", i)
		status := fmt.Sprintf(`{"name":%q,"processes":[{"name":"%s:0","detail":"%s"}]}`, name, name, strings.Repeat("d", maxJobStatus-1024))
		for len(status) > 0 {
			n := min(len(status), chunk)
			msgs = append(msgs, &fleetpb.JobState{Jobs: []*fleetpb.JobStatus{{Name: name, Status: status[:n], More: n < len(status)}}})
			status = status[n:]
		}
	}
	assert.Contains(t, byeAfter(t, c, msgs...), "protocol error")
	info := m.untilState(t, "a", StateLost)
	assert.Contains(t, info.Reason, "bytes")
	assert.Zero(t, info.Jobs)
}

// Agents that come and go under ever new ids (a glob rule, a secret
// stolen) leave no more than MaxAgents records: the one lost or gone
// longest is forgotten to make room.
func TestAgentRecordsAreBounded(t *testing.T) {
	m := startManagerWith(t, "127.0.0.1:0", t.TempDir(), func(m *Manager) { m.MaxAgents = 2 }, rule("x*", "s"))
	for i := range 4 {
		id := fmt.Sprintf("x%d", i)
		c := m.rawTLS(t)
		hello(t, c, id, "s")
		m.untilState(t, id, StateConnected)
		c.Close()
		m.untilState(t, id, StateLost)
	}
	var ids []string
	for _, a := range m.Agents() {
		ids = append(ids, a.ID)
	}
	assert.Equal(t, []string{"x2", "x3"}, ids)
	logged(t, m.log, "fleet: agent forgotten", "agent=x0")
}

// Peers that connect and say nothing cannot keep agents out: when
// MaxHandshakes are under way, the oldest makes room for the newcomer.
func TestSilentPeersCannotKeepAgentsOut(t *testing.T) {
	m := startManagerWith(t, "127.0.0.1:0", t.TempDir(), func(m *Manager) {
		m.MaxHandshakes = 2
		m.HelloTimeout = time.Hour // not what frees the slots
	}, rule("a", "s"))
	for range 4 {
		c, err := net.Dial("tcp", m.addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
	}
	logged(t, m.log, "fleet: too many handshakes under way")
	runAgent(t, m.newAgent("a", "s", nil))
	m.untilState(t, "a", StateConnected)
}
