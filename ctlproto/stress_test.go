package ctlproto

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// 200 clients at once, mixed commands, a Handler that sleeps a little: every
// reply must be the one its request calls for, and nothing may leak.
func TestServerConcurrentClients(t *testing.T) {
	leakCheck(t)
	const clients, rounds = 200, 10
	h := &fakeHandler{delay: func(*Request) time.Duration {
		return time.Duration(rand.IntN(2000)) * time.Microsecond
	}}
	addr := startServer(t, &Server{Handler: h, MaxConns: clients})
	errs := make(chan error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- runClient(addr, i, rounds)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, h.requests(), clients*rounds)
}

// stressRequests pairs requests with the reply kind each must get.
var stressRequests = []struct {
	req  Request
	want Kind
}{
	{Request{Command: CmdStart, Job: "web"}, KindSuccess},
	{Request{Command: CmdStart, Job: "running"}, KindRedundant},
	{Request{Command: CmdStop, Job: "stopped"}, KindRedundant},
	{Request{Command: CmdKill, Job: "web"}, KindSuccess},
	{Request{Command: CmdStatus}, KindStatus},
	{Request{Command: CmdPull, Job: "web"}, KindFile},
	{Request{Command: CmdPush, Job: "web", Data: []byte("bad")}, KindFail},
	{Request{Command: CmdList}, KindList},
	{Request{Command: CmdDelete, Job: "missing"}, KindFail},
	{Request{Command: CmdRestart}, KindSuccess},
}

func runClient(addr string, id, rounds int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := Dial(ctx, addr, "")
	if err != nil {
		return err
	}
	defer c.Close()
	for i := range rounds {
		tc := stressRequests[(id+i)%len(stressRequests)]
		resp, err := c.Do(ctx, &tc.req)
		if err != nil {
			return fmt.Errorf("client %d: %w", id, err)
		}
		if resp.Kind != tc.want {
			return fmt.Errorf("client %d: %s %q: got %+v, want %s", id, tc.req.Command, tc.req.Job, resp, tc.want)
		}
		if resp.Kind == KindFile && resp.Job != tc.req.Job {
			return fmt.Errorf("client %d: reply for %q, asked for %q", id, resp.Job, tc.req.Job)
		}
	}
	return nil
}
