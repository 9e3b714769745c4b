package jobfile

import (
	"reflect"
	"slices"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// spawnFields are the Spec fields that change how a process is spawned.
var spawnFields = []string{"Cmd", "Umask", "WorkingDir", "Env", "Stdout", "Stderr", "TTY", "User"}

// changed returns a copy of v (a field value) that differs from it.
func changed(t *testing.T, v reflect.Value) reflect.Value {
	t.Helper()
	out := reflect.New(v.Type()).Elem()
	switch x := v.Interface().(type) {
	case string:
		out.SetString(x + "x")
	case int, AutoRestart, Leftovers:
		out.SetInt(v.Int() + 1)
	case bool:
		out.SetBool(!x)
	case syscall.Signal:
		out.SetInt(v.Int() + 1)
	case []string:
		out.Set(reflect.ValueOf(append(slices.Clone(x), "x")))
	case []int:
		out.Set(reflect.ValueOf(append(slices.Clone(x), 7)))
	case []uint32:
		out.Set(reflect.ValueOf(append(slices.Clone(x), 7)))
	case []syscall.Signal:
		out.Set(reflect.ValueOf(append(slices.Clone(x), syscall.SIGUSR2)))
	case map[string]string:
		m := map[string]string{"NEW": "1"}
		for k, val := range x {
			m[k] = val
		}
		out.Set(reflect.ValueOf(m))
	case Output:
		out.Set(reflect.ValueOf(Output{Kind: OutputFile, Path: x.Path + "/x"}))
	case *User:
		out.Set(reflect.ValueOf(&User{Spec: "1", UID: 1, GID: 1, Groups: []uint32{1}}))
	case *Probe:
		out.Set(reflect.ValueOf(&Probe{Kind: ProbeTCP, Addr: "a:1"}))
	default:
		if v.Kind() == reflect.Int64 { // time.Duration
			out.SetInt(v.Int() + 1)
			break
		}
		t.Fatalf("changed: add a case for %s", v.Type())
	}
	return out
}

// TestSpecEqual changes each field of a Spec in turn: Equal must notice
// every change, and SameProcess exactly the changes of spawnFields. A new
// field that the comparisons forget makes this test fail.
func TestSpecEqual(t *testing.T) {
	base := mustParse(t, `{"cmd": "a b", "env": {"A": "1"}, "user": "root", "depends_on": ["db"], "forwardsignals": ["USR2"]}`)
	same := mustParse(t, `{"cmd": "a b", "env": {"A": "1"}, "user": "root", "depends_on": ["db"], "forwardsignals": ["USR2"]}`)
	require.True(t, base.Equal(same))
	require.True(t, base.SameProcess(same))

	typ := reflect.TypeFor[Spec]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		t.Run(f.Name, func(t *testing.T) {
			other := *base
			v := reflect.ValueOf(&other).Elem().Field(i)
			v.Set(changed(t, v))
			require.False(t, base.Equal(&other))
			require.Equal(t, !slices.Contains(spawnFields, f.Name), base.SameProcess(&other))
		})
	}
}

func TestUserEqual(t *testing.T) {
	base := &User{Spec: "web", UID: 1, GID: 2, Groups: []uint32{2, 3}, Name: "web", Home: "/home/web"}
	typ := reflect.TypeFor[User]()
	for i := range typ.NumField() {
		other := *base
		v := reflect.ValueOf(&other).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Uint32:
			v.SetUint(v.Uint() + 1)
		case reflect.Slice:
			other.Groups = []uint32{2}
		default:
			t.Fatalf("add a case for %s", typ.Field(i).Type)
		}
		require.False(t, base.Equal(&other), typ.Field(i).Name)
	}
	var none *User
	require.True(t, none.Equal(nil))
	require.False(t, none.Equal(base))
	require.False(t, base.Equal(nil))
}

// TestProbeEqual changes each field of a Probe in turn: Equal must notice.
func TestProbeEqual(t *testing.T) {
	base := mustParse(t, `{"cmd": "x", "health": {"exec": "check --all"}}`).Health
	typ := reflect.TypeFor[Probe]()
	for i := range typ.NumField() {
		other := *base
		v := reflect.ValueOf(&other).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "x")
		case reflect.Int, reflect.Int64:
			v.SetInt(v.Int() + 1)
		case reflect.Slice:
			other.Cmd = []string{"check"}
		default:
			t.Fatalf("add a case for %s", typ.Field(i).Type)
		}
		require.False(t, base.Equal(&other), typ.Field(i).Name)
	}
	var none *Probe
	require.True(t, none.Equal(nil))
	require.False(t, none.Equal(base))
}

func TestSpecEqualNil(t *testing.T) {
	var none *Spec
	s := mustParse(t, `{"cmd": "x"}`)
	require.True(t, none.Equal(nil))
	require.True(t, none.SameProcess(nil))
	require.False(t, s.Equal(nil))
	require.False(t, none.SameProcess(s))
}

// TestSameProcessAfterReload is the case reload cares about: scaling and
// policy changes keep the processes, a new command does not.
func TestSameProcessAfterReload(t *testing.T) {
	old := mustParse(t, `{"cmd": "web --port 80", "numprocs": 2}`)
	scaled := mustParse(t, `{"cmd": "web --port 80", "numprocs": 4, "autorestart": true, "stoptime": 10}`)
	moved := mustParse(t, `{"cmd": "web --port 8080", "numprocs": 2}`)
	require.True(t, old.SameProcess(scaled))
	require.False(t, old.Equal(scaled))
	require.False(t, old.SameProcess(moved))
}
