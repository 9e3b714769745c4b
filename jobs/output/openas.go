package output

import (
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// Owner is whose permissions a log file is opened with: a job that runs as
// another user gets its log files opened as that user, so that a symbolic
// link the job puts where its log file should be cannot make taskmasterd
// (root) append to a file the job could not write itself, and so that new
// log files belong to the job's user.
type Owner struct {
	UID    uint32
	GID    uint32
	Groups []uint32
}

// openFile opens path with openFlags and mode (less the process umask): as
// taskmasterd when owner is nil, else with owner's permissions.
func openFile(path string, mode os.FileMode, owner *Owner) (*os.File, error) {
	if owner == nil {
		return os.OpenFile(path, openFlags, mode)
	}
	type result struct {
		f   *os.File
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Linux keeps credentials per thread. This goroutine takes a thread
		// of its own, sets that thread's file system ids and groups (raw
		// system calls: the Go wrappers would change every thread), opens
		// the file, and ends without unlocking: the runtime then ends the
		// thread, so its credentials never serve anything else.
		runtime.LockOSThread()
		if err := becomeOwner(owner); err != nil {
			done <- result{err: &os.PathError{Op: "open", Path: path, Err: err}}
			return
		}
		f, err := os.OpenFile(path, openFlags, mode)
		done <- result{f, err}
	}()
	r := <-done
	return r.f, r.err
}

// becomeOwner gives the calling thread owner's supplementary groups and file
// system ids. Changing the file system uid from 0 drops the thread's file
// capabilities (CAP_DAC_OVERRIDE and others), so permissions are checked as
// for owner.
func becomeOwner(owner *Owner) error {
	groups := make([]uint32, len(owner.Groups))
	copy(groups, owner.Groups)
	var ptr unsafe.Pointer
	if len(groups) > 0 {
		ptr = unsafe.Pointer(&groups[0])
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_SETGROUPS, uintptr(len(groups)), uintptr(ptr), 0); errno != 0 {
		return errno
	}
	// setfsgid and setfsuid return the previous id, not an error: check
	// that the change took by asking again (-1 changes nothing).
	syscall.RawSyscall(syscall.SYS_SETFSGID, uintptr(owner.GID), 0, 0)
	if got, _, _ := syscall.RawSyscall(syscall.SYS_SETFSGID, ^uintptr(0), 0, 0); uint32(got) != owner.GID {
		return syscall.EPERM
	}
	syscall.RawSyscall(syscall.SYS_SETFSUID, uintptr(owner.UID), 0, 0)
	if got, _, _ := syscall.RawSyscall(syscall.SYS_SETFSUID, ^uintptr(0), 0, 0); uint32(got) != owner.UID {
		return syscall.EPERM
	}
	return nil
}
