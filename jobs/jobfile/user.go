package jobfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/user"
	"slices"
	"strconv"
	"strings"
)

// maxID is the largest user or group id a job may use: (uint32)-1 means
// "leave unchanged" to setresuid and setresgid, so it cannot be an id.
const maxID = math.MaxUint32 - 1

// setUser decodes user and runas: a string (see LookupUser) or a uid as a
// JSON integer. "" keeps taskmasterd's identity.
func setUser(p *parser, raw json.RawMessage) error {
	p.spec.User = nil
	var spec string
	if isNumber(raw) {
		n, err := asInt(raw, 0, maxID)
		if err != nil {
			return fmt.Errorf("expected a user id from 0 to %d or a user name, got %s", maxID, describe(raw))
		}
		spec = strconv.FormatInt(n, 10)
	} else {
		var err error
		spec, err = asString(raw, `a user name, "UID", "UID:GID" or "NAME:GROUP"`)
		if err != nil {
			return err
		}
	}
	if spec == "" {
		return nil
	}
	u, err := LookupUser(spec)
	p.spec.User = u
	return err
}

// LookupUser resolves a user as job files write it: "NAME", "UID",
// "UID:GID", "NAME:GROUP" or "UID:GROUP". A name must exist in the user
// database; a numeric uid need not (containers often run as ids without a
// passwd entry), and then runs with gid = the given gid or else the uid. A
// uid with an entry takes its primary group, name, home and supplementary
// groups. An explicit group replaces the primary group (which is then not
// kept as a supplementary group). Groups is always set, so that processes
// never inherit taskmasterd's own supplementary groups.
func LookupUser(spec string) (*User, error) {
	name, group, hasGroup := strings.Cut(spec, ":")
	if name == "" {
		return nil, fmt.Errorf("expected a user name or id before \":\" in %s", quoteShort(spec))
	}
	if hasGroup && group == "" {
		return nil, fmt.Errorf("expected a group name or id after \":\" in %s", quoteShort(spec))
	}
	u := &User{Spec: spec}
	if err := u.lookup(name); err != nil {
		return nil, err
	}
	if !hasGroup {
		return u, nil
	}
	gid, err := lookupGroup(group)
	if err != nil {
		return nil, err
	}
	u.Groups = slices.DeleteFunc(u.Groups, func(g uint32) bool { return g == u.GID })
	u.GID = gid
	u.Groups = sortIDs(append(u.Groups, gid))
	return u, nil
}

// lookup fills u from the user name or id.
func (u *User) lookup(name string) error {
	id, numeric, err := parseID(name, "user")
	if err != nil {
		return err
	}
	var pw *user.User
	if numeric {
		pw, err = user.LookupId(strconv.FormatUint(uint64(id), 10))
		if errors.As(err, new(user.UnknownUserIdError)) {
			u.UID, u.GID, u.Groups = id, id, []uint32{id}
			return nil
		}
	} else {
		pw, err = user.Lookup(name)
		if errors.As(err, new(user.UnknownUserError)) {
			return fmt.Errorf("unknown user %q (no such name in /etc/passwd)", name)
		}
	}
	if err != nil {
		return fmt.Errorf("look up user %q: %w", name, err)
	}
	return u.fill(pw)
}

// fill copies a user database entry into u.
func (u *User) fill(pw *user.User) error {
	uid, err := strconv.ParseUint(pw.Uid, 10, 32)
	if err != nil {
		return fmt.Errorf("user %q has a non-numeric uid %q", pw.Username, pw.Uid)
	}
	gid, err := strconv.ParseUint(pw.Gid, 10, 32)
	if err != nil {
		return fmt.Errorf("user %q has a non-numeric gid %q", pw.Username, pw.Gid)
	}
	ids, err := pw.GroupIds()
	if err != nil {
		return fmt.Errorf("list the groups of user %q: %w", pw.Username, err)
	}
	groups := []uint32{uint32(gid)}
	for _, s := range ids {
		if g, err := strconv.ParseUint(s, 10, 32); err == nil {
			groups = append(groups, uint32(g))
		}
	}
	u.UID, u.GID, u.Groups = uint32(uid), uint32(gid), sortIDs(groups)
	u.Name, u.Home = pw.Username, pw.HomeDir
	return nil
}

// lookupGroup resolves a group name or id.
func lookupGroup(group string) (uint32, error) {
	id, numeric, err := parseID(group, "group")
	if err != nil || numeric {
		return id, err
	}
	g, err := user.LookupGroup(group)
	if errors.As(err, new(user.UnknownGroupError)) {
		return 0, fmt.Errorf("unknown group %q (no such name in /etc/group)", group)
	}
	if err != nil {
		return 0, fmt.Errorf("look up group %q: %w", group, err)
	}
	gid, err := strconv.ParseUint(g.Gid, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("group %q has a non-numeric gid %q", group, g.Gid)
	}
	return uint32(gid), nil
}

// parseID reads a numeric id; numeric is false when s is a name.
func parseID(s, what string) (id uint32, numeric bool, err error) {
	if strings.Trim(s, "0123456789") != "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > maxID {
		return 0, true, fmt.Errorf("%s id %s is out of range (0 to %d)", what, s, maxID)
	}
	return uint32(n), true, nil
}

// sortIDs sorts ids and removes duplicates.
func sortIDs(ids []uint32) []uint32 {
	slices.Sort(ids)
	return slices.Compact(ids)
}
