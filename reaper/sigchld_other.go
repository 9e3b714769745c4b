//go:build !(linux && (amd64 || arm64))

package reaper

import "syscall"

// sigchldAction is not supported here: Run reaps on every SIGCHLD.
type sigchldAction struct{}

func runtimeSIGCHLD() *sigchldAction                { return nil }
func (a *sigchldAction) setDefault() error          { return nil }
func (a *sigchldAction) restore(restart bool) error { return nil }

// wait4Blocking is wait4(-1, ws, 0, nil).
func wait4Blocking(ws *syscall.WaitStatus) (int, error) {
	return syscall.Wait4(-1, ws, 0, nil)
}

// wait4NoHang is wait4(-1, ws, WNOHANG, nil).
func wait4NoHang(ws *syscall.WaitStatus) (int, error) {
	return syscall.Wait4(-1, ws, syscall.WNOHANG, nil)
}
