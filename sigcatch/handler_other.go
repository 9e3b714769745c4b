//go:build !linux || !(amd64 || arm64)

package sigcatch

import "syscall"

const supported = false

func setHandler(syscall.Signal) error { return ErrUnsupported }

func actionOf(syscall.Signal) (uintptr, error) { return 0, ErrUnsupported }

func unblock(uint64) error { return ErrUnsupported }

func handlerPC() uintptr { return 0 }

var writeFD, ownPID int32
