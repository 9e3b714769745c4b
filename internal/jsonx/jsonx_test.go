package jsonx

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type sample struct {
	Name    string    `json:"name"`
	Pid     int       `json:"pid"`
	Since   time.Time `json:"since"`
	Started time.Time `json:"started,omitzero"`
	Code    *int      `json:"exit_code"`
	Detail  string    `json:"detail,omitempty"`
}

// TestSameWireAsEncodingJSON pins what the callers rely on, whichever
// library the build uses: omitzero, omitempty, null pointers, RFC 3339
// times, and the liberal reads (escaped slashes, unknown keys).
func TestSameWireAsEncodingJSON(t *testing.T) {
	since := time.Date(2026, 12, 5, 6, 0, 0, 5, time.UTC)
	b, err := Marshal(sample{Name: "web:0", Pid: 12, Since: since})
	require.NoError(t, err)
	require.JSONEq(t, `{"name":"web:0","pid":12,"since":"2026-12-05T06:00:00.000000005Z","exit_code":null}`, string(b))
	require.Equal(t, `{"name":"web:0","pid":12,"since":"2026-12-05T06:00:00.000000005Z","exit_code":null}`, string(b))

	var got sample
	require.NoError(t, Unmarshal([]byte(`{"name":"a\/b","pid":3,"unknown":[1,{"x":2}],"exit_code":7}`), &got))
	require.Equal(t, "a/b", got.Name)
	require.Equal(t, 3, got.Pid)
	require.NotNil(t, got.Code)
	require.Equal(t, 7, *got.Code)
	require.Error(t, Unmarshal([]byte(`{"name":`), &got))
	require.Contains(t, []string{"encoding/json", "goccy/go-json"}, Library)
}
