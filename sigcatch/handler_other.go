//go:build !linux || !(amd64 || arm64)

package sigcatch

import "syscall"

const supported = false

func setHandler(syscall.Signal) error { return ErrUnsupported }

var writeFD, ownPID int32
