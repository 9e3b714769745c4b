package link

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// The transport hears of a client's registration (WithRegistered) once
// its token is accepted, and not for a client refused: until then its
// listener may close it to make room (init's HTTP listener).
func TestRegisteredIsToldOnlyOnAdmission(t *testing.T) {
	for _, tc := range []struct {
		token string
		want  bool
	}{{"secret", true}, {"wrong", false}, {"", false}} {
		t.Run(tc.token, func(t *testing.T) {
			w := newWorld(t, "secret", nil)
			var told atomic.Bool
			cl := &client{t: t, c: newPipeConn(256), done: make(chan struct{})}
			go func() {
				defer close(cl.done)
				w.srv.Serve(WithRegistered(context.Background(), func() { told.Store(true) }), cl.c)
			}()
			t.Cleanup(func() { cl.c.Close(); <-cl.done })
			require.Equal(t, TypeHello, cl.next().Type)
			require.False(t, told.Load(), "told before register_control")
			cl.send(TypeRegisterControl, Register{Token: tc.token, Agent: "test", Version: "1.0.0"})
			if tc.want {
				require.Equal(t, TypeReady, cl.next().Type)
			} else {
				cl.closed()
			}
			require.Equal(t, tc.want, told.Load())
		})
	}
}
