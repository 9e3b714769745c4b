package spawnhelper

import (
	"encoding/binary"
	"errors"
	"syscall"
)

// maxRequest bounds one request, a SOCK_SEQPACKET record: the helper
// reads into a buffer of this size. A start whose request is larger (an
// environment of hundreds of KiB) forks directly.
const maxRequest = 192 << 10

// maxFiles bounds the descriptors one request passes: the kernel takes at
// most SCM_MAX_FD (253) in one message.
const maxFiles = 250

// errMalformed is a request the helper cannot read: never one this binary
// wrote, since both ends are the same program.
var errMalformed = errors.New("spawnhelper: malformed request")

// request is one syscall.ForkExec, as it crosses the socket. The child's
// descriptor i is the i-th descriptor passed with the message when
// files[i] is that index, or closed when it is -1; the descriptors
// themselves travel as SCM_RIGHTS.
type request struct {
	argv0     string
	argv, env []string
	dir       string
	files     []int32
	sys       sysAttr
}

// sysAttr is the part of syscall.SysProcAttr that taskmasterd's starts
// use. Encodable says which attributes have no field here: those starts
// fork directly.
type sysAttr struct {
	setpgid, setsid, setctty, noctty bool
	pgid, ctty                       int32
	cred                             *syscall.Credential
}

// encodable reports whether every attribute set in sys has a field in
// sysAttr, and returns them.
func encodable(sys *syscall.SysProcAttr) (sysAttr, bool) {
	if sys == nil {
		return sysAttr{}, true
	}
	rest := *sys
	a := sysAttr{
		setpgid: sys.Setpgid, setsid: sys.Setsid, setctty: sys.Setctty, noctty: sys.Noctty,
		pgid: int32(sys.Pgid), ctty: int32(sys.Ctty), cred: sys.Credential,
	}
	rest.Setpgid, rest.Setsid, rest.Setctty, rest.Noctty = false, false, false, false
	rest.Pgid, rest.Ctty, rest.Credential = 0, 0, nil
	return a, isZero(&rest)
}

// isZero reports whether no attribute of sys is set. SysProcAttr holds
// slices and pointers, so it is compared field by field through the ones
// a start could set.
func isZero(sys *syscall.SysProcAttr) bool {
	return sys.Chroot == "" && !sys.Ptrace && !sys.Foreground && sys.Pdeathsig == 0 &&
		sys.Cloneflags == 0 && sys.Unshareflags == 0 && sys.UidMappings == nil &&
		sys.GidMappings == nil && !sys.GidMappingsEnableSetgroups && sys.AmbientCaps == nil &&
		!sys.UseCgroupFD && sys.CgroupFD == 0 && sys.PidFD == nil
}

func (a sysAttr) procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Setpgid: a.setpgid, Setsid: a.setsid, Setctty: a.setctty, Noctty: a.noctty,
		Pgid: int(a.pgid), Ctty: int(a.ctty), Credential: a.cred,
		// The child is the helper's parent's: taskmasterd reaps it, and
		// it never has the helper's descriptor table to copy.
		Cloneflags: syscall.CLONE_PARENT,
	}
}

func (r *request) encode() []byte {
	b := make([]byte, 0, 512)
	b = appendString(b, r.argv0)
	b = appendStrings(b, r.argv)
	b = appendStrings(b, r.env)
	b = appendString(b, r.dir)
	b = binary.AppendUvarint(b, uint64(len(r.files)))
	for _, f := range r.files {
		b = binary.AppendVarint(b, int64(f))
	}
	s := r.sys
	b = append(b, flags(s.setpgid, s.setsid, s.setctty, s.noctty, s.cred != nil, s.cred != nil && s.cred.NoSetGroups))
	b = binary.AppendVarint(b, int64(s.pgid))
	b = binary.AppendVarint(b, int64(s.ctty))
	if c := s.cred; c != nil {
		b = binary.AppendUvarint(b, uint64(c.Uid))
		b = binary.AppendUvarint(b, uint64(c.Gid))
		b = binary.AppendUvarint(b, uint64(len(c.Groups)))
		for _, g := range c.Groups {
			b = binary.AppendUvarint(b, uint64(g))
		}
	}
	return b
}

func flags(bits ...bool) byte {
	var f byte
	for i, b := range bits {
		if b {
			f |= 1 << i
		}
	}
	return f
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// decoder reads what encode wrote; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func decode(b []byte) (*request, error) {
	d := &decoder{b: b}
	r := &request{argv0: d.string(), argv: d.strings(), env: d.strings(), dir: d.string()}
	n := d.count()
	r.files = make([]int32, 0, n)
	for range n {
		r.files = append(r.files, int32(d.varint()))
	}
	if d.err != nil || len(d.b) == 0 {
		return nil, errMalformed
	}
	f := d.b[0]
	d.b = d.b[1:]
	r.sys = sysAttr{setpgid: f&1 != 0, setsid: f&2 != 0, setctty: f&4 != 0, noctty: f&8 != 0}
	r.sys.pgid, r.sys.ctty = int32(d.varint()), int32(d.varint())
	if f&16 != 0 {
		c := &syscall.Credential{Uid: uint32(d.uvarint()), Gid: uint32(d.uvarint()), NoSetGroups: f&32 != 0}
		for range d.count() {
			c.Groups = append(c.Groups, uint32(d.uvarint()))
		}
		r.sys.cred = c
	}
	if d.err != nil || len(d.b) != 0 {
		return nil, errMalformed
	}
	return r, nil
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = errMalformed, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = errMalformed, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// count reads a length, which cannot exceed the bytes left: a corrupt
// one must not allocate gigabytes.
func (d *decoder) count() int {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err, d.b = errMalformed, nil
		return 0
	}
	return int(n)
}

func (d *decoder) string() string {
	n := d.count()
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strings() []string {
	n := d.count()
	ss := make([]string, 0, n)
	for range n {
		ss = append(ss, d.string())
	}
	return ss
}
