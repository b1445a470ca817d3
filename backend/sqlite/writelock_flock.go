//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite

import (
	"errors"
	"syscall"
)

const flockSupported = true

// flockExclusive blocks until the open file description fd refers to
// holds the exclusive flock.
func flockExclusive(fd int) error {
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func flockRelease(fd int) { syscall.Flock(fd, syscall.LOCK_UN) }

// flockTry takes the exclusive flock if it is free, without waiting.
func flockTry(fd int) bool { return syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB) == nil }
