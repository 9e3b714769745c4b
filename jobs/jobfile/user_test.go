package jobfile

import (
	"os/user"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// rootGroups returns the groups root belongs to, as LookupUser should find
// them (the user database differs between machines).
func rootGroups(t *testing.T) []uint32 {
	t.Helper()
	root, err := user.Lookup("root")
	if err != nil {
		t.Skip("no root user in the user database")
	}
	ids, err := root.GroupIds()
	require.NoError(t, err)
	groups := []uint32{0}
	for _, id := range ids {
		n, err := strconv.ParseUint(id, 10, 32)
		require.NoError(t, err)
		groups = append(groups, uint32(n))
	}
	return sortIDs(groups)
}

// freeUID returns a uid without a passwd entry.
func freeUID(t *testing.T) string {
	t.Helper()
	for uid := 4242; uid < 5000; uid++ {
		if _, err := user.LookupId(strconv.Itoa(uid)); err != nil {
			return strconv.Itoa(uid)
		}
	}
	t.Skip("no free uid")
	return ""
}

func TestParseUser(t *testing.T) {
	groups := rootGroups(t)
	free := freeUID(t)
	id, _ := strconv.ParseUint(free, 10, 32)
	uid := uint32(id)
	rootHome := func(spec string) *User {
		return &User{Spec: spec, UID: 0, GID: 0, Groups: groups, Name: "root", Home: "/root"}
	}
	tests := []struct {
		value string // the JSON value of "user"
		want  *User
	}{
		{`""`, nil},
		{`"root"`, rootHome("root")},
		{`"0"`, rootHome("0")},
		{`0`, rootHome("0")},
		{`"00"`, rootHome("00")},
		{`"0:0"`, rootHome("0:0")},
		{`"root:root"`, rootHome("root:root")},
		{`"` + free + `"`, &User{Spec: free, UID: uid, GID: uid, Groups: []uint32{uid}}},
		{free, &User{Spec: free, UID: uid, GID: uid, Groups: []uint32{uid}}},
		{`"` + free + `:100"`, &User{Spec: free + ":100", UID: uid, GID: 100, Groups: []uint32{100}}},
		{`"` + free + `:root"`, &User{Spec: free + ":root", UID: uid, GID: 0, Groups: []uint32{0}}},
		{`"root:4243"`, &User{Spec: "root:4243", UID: 0, GID: 4243, Groups: withGroup(groups, 0, 4243), Name: "root", Home: "/root"}},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			s := mustParse(t, `{"cmd": "x", "user": `+tt.value+`}`)
			require.Equal(t, tt.want, s.User)
			if s.User != nil {
				require.NotNil(t, s.User.Groups, "Groups must be set so that children drop taskmasterd's")
			}
		})
	}
}

// withGroup returns groups without old and with added, sorted.
func withGroup(groups []uint32, old, added uint32) []uint32 {
	var out []uint32
	for _, g := range groups {
		if g != old {
			out = append(out, g)
		}
	}
	return sortIDs(append(out, added))
}

func TestParseRunas(t *testing.T) {
	s := mustParse(t, `{"cmd": "x", "runas": "root"}`)
	require.Equal(t, "root", s.User.Name)
	s = mustParse(t, `{"cmd": "x", "runas": ""}`)
	require.Nil(t, s.User)
}

func TestLookupUserErrors(t *testing.T) {
	tests := []struct{ spec, msg string }{
		{"no-such-user-xyz", `unknown user "no-such-user-xyz" (no such name in /etc/passwd)`},
		{"root:no-such-group-xyz", `unknown group "no-such-group-xyz" (no such name in /etc/group)`},
		{":0", `expected a user name or id before ":" in ":0"`},
		{"root:", `expected a group name or id after ":" in "root:"`},
		{"4294967295", "user id 4294967295 is out of range (0 to 4294967294)"},
		{"0:4294967295", "group id 4294967295 is out of range (0 to 4294967294)"},
		{"0:99999999999999999999999", "group id 99999999999999999999999 is out of range (0 to 4294967294)"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			u, err := LookupUser(tt.spec)
			require.Nil(t, u)
			require.EqualError(t, err, tt.msg)
		})
	}
}
