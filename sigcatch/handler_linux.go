//go:build linux && (amd64 || arm64)

package sigcatch

import (
	"syscall"
	"unsafe"
)

const supported = true

// writeFD is the pipe the handler writes each signal number to, and
// ownPID the process it writes in; the assembly reads both.
var (
	writeFD int32 = -1
	ownPID  int32
)

// handler and restorer are written in assembly (handler_linux_*.s): the
// kernel calls handler with the C calling convention and returns from it
// into restorer, which makes the rt_sigreturn system call.
func handler()
func restorer()

// handlerPC and restorerPC return the addresses of handler and restorer
// themselves (not of the Go-callable wrappers the toolchain may make).
func handlerPC() uintptr
func restorerPC() uintptr

// Flags of the kernel's struct sigaction.
const (
	saRestorer = 0x04000000
	saOnStack  = 0x08000000
	saRestart  = 0x10000000
)

// kernelSigaction is the kernel's struct sigaction on amd64 and arm64
// (not the C library's, which is larger).
type kernelSigaction struct {
	handler  uintptr
	flags    uint64
	restorer uintptr
	mask     uint64
}

// setHandler installs handler for sig. The handler runs on the alternate
// signal stack (SA_ONSTACK), because the interrupted thread may be on a
// goroutine's small stack, with every signal blocked, so that none of the
// runtime's handlers runs on top of it.
func setHandler(sig syscall.Signal) error {
	act := kernelSigaction{
		handler:  handlerPC(),
		flags:    saOnStack | saRestart | saRestorer,
		restorer: restorerPC(),
		mask:     ^uint64(0),
	}
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(&act)), 0, unsafe.Sizeof(act.mask), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// actionOf returns the handler address the kernel holds for sig:
// handlerPC() when it is sigcatch's, 0 for SIG_DFL.
func actionOf(sig syscall.Signal) (uintptr, error) {
	var act kernelSigaction
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig),
		0, uintptr(unsafe.Pointer(&act)), unsafe.Sizeof(act.mask), 0, 0)
	if errno != 0 {
		return 0, errno
	}
	return act.handler, nil
}

// unblock unblocks the signals of set (bit n-1 for signal n) on the
// calling thread.
func unblock(set uint64) error {
	const sigUnblock = 1
	_, _, errno := syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigUnblock,
		uintptr(unsafe.Pointer(&set)), 0, unsafe.Sizeof(set), 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
