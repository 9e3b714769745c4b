//go:build linux && (amd64 || arm64)

package reaper

import (
	"syscall"
	"unsafe"
)

// kernelSigaction is the kernel's struct sigaction on amd64 and arm64 (not
// the C library's, which is larger).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// saRestart is the SA_RESTART flag of struct sigaction.
const saRestart = 0x10000000

// sigchldAction is the Go runtime's action for SIGCHLD, kept to be put
// back after Run set the default action.
type sigchldAction struct{ runtime kernelSigaction }

// runtimeSIGCHLD returns the action now installed for SIGCHLD, or nil if
// it is not a handler (nothing then to switch off and on).
func runtimeSIGCHLD() *sigchldAction {
	var a sigchldAction
	if sigaction(nil, &a.runtime) != nil || a.runtime.handler <= 1 { // SIG_DFL 0, SIG_IGN 1
		return nil
	}
	return &a
}

// setDefault sets SIGCHLD's action to SIG_DFL: the kernel then drops a
// SIGCHLD as it is sent (it neither wakes a thread nor reaps the child,
// which only SIG_IGN or SA_NOCLDWAIT would).
func (a *sigchldAction) setDefault() error {
	dfl := a.runtime
	dfl.handler = 0
	return sigaction(&dfl, nil)
}

// restore puts the runtime's action back, with or without SA_RESTART.
func (a *sigchldAction) restore(restart bool) error {
	act := a.runtime
	if !restart {
		act.flags &^= saRestart
	}
	return sigaction(&act, nil)
}

func sigaction(act, old *kernelSigaction) error {
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(syscall.SIGCHLD),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), unsafe.Sizeof(act.mask), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// entersyscallblock and exitsyscall are the Go runtime's own brackets of a
// system call that blocks (it uses them to sleep on a futex): the first
// gives the goroutine's P away at once. syscall.Syscall keeps the P, and
// the runtime's monitor thread then wakes every 20 µs until it takes the P
// back (after 10 ms, or as soon as another goroutine is queued there): a
// thousand wake-ups a second while Run waits. Both are kept for outside
// use (go.dev/issue/67401).
//
//go:linkname entersyscallblock runtime.entersyscallblock
func entersyscallblock()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// wait4Blocking is wait4(-1, ws, 0, nil), its P given away while it
// blocks. ws must not be on a goroutine's stack: the Reaper's own.
//
//go:nosplit
//go:norace
func wait4Blocking(ws *syscall.WaitStatus) (int, error) {
	entersyscallblock()
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(ws)), 0, 0, 0, 0)
	exitsyscall()
	if errno != 0 {
		return int(pid), errno
	}
	return int(pid), nil
}

// wait4NoHang is wait4(-1, ws, WNOHANG, nil) without telling the runtime
// of a system call: it never blocks, and the monitor thread would wake to
// watch a P in a system call that takes it back at once. Reaping a zombie
// costs the kernel some tens of µs (its /proc entries go), a time a
// goroutine could spend computing without a safe point as well.
func wait4NoHang(ws *syscall.WaitStatus) (int, error) {
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_WAIT4, ^uintptr(0), uintptr(unsafe.Pointer(ws)), syscall.WNOHANG, 0, 0, 0)
	if errno != 0 {
		return int(pid), errno
	}
	return int(pid), nil
}
