package sqlite

import (
	"encoding/binary"
	"errors"
	"io"

	"golang.org/x/sys/unix"
)

// The queue in front of the lock file (Linux). A release of flock wakes
// every waiter at once: across 32 processes on two cores, 31 woken
// processes competed for the CPU with the one that won the lock, and the
// slowest commits waited 200–300 ms. A writer that finds flock free
// still takes it at once (often the writer that just let go, its page
// cache still valid); one that finds it taken takes a ticket and waits
// for the writer before it, so that a release wakes one waiter and
// waiters go in the order they came. The queue is made of
// open-file-description byte-range locks (F_OFD_*, Linux 3.15; per open
// file like flock, so two Stores in one process queue like two
// processes):
//
//   - bytes [0, 8) of the lock file hold the next ticket (little endian),
//     read and advanced under a lock on those bytes;
//   - a writer holding ticket t locks byte queueBase+t from taking the
//     ticket until it lets go of the lock file, and before taking flock
//     waits until it can lock byte queueBase+t-1, which its predecessor
//     holds until it is done.
//
// The queue only orders writers; flock still excludes them. A writer
// that cannot queue (a lock file opened read-only, a counter it cannot
// read, a slot somebody else holds) takes flock directly; so does a
// build without the queue. If a queued writer dies, the kernel drops
// its locks and its successor moves up to flock, where it waits for the
// holder as before; if one stops while it waits (a debugger, a paused
// container), the writers behind it take flock once they find it free
// (writeLock.waitTurn).

// queueBase is the offset of ticket 0's byte; tickets wrap below
// queueSlots so that offsets stay far from overflowing.
const (
	queueBase  = 8
	queueSlots = 1 << 60
)

// ofdLock locks (typ F_WRLCK) or unlocks (F_UNLCK) the byte range
// [off, off+n) of fd's open file description, waiting if wait is set.
func ofdLock(fd int, typ int16, off, n int64, wait bool) error {
	cmd := unix.F_OFD_SETLK
	if wait {
		cmd = unix.F_OFD_SETLKW
	}
	lk := unix.Flock_t{Type: typ, Whence: io.SeekStart, Start: off, Len: n}
	for {
		err := unix.FcntlFlock(uintptr(fd), cmd, &lk)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// queueEnter takes the next ticket and locks its slot. ok is false if
// the writer cannot queue (see above); it then holds nothing.
func queueEnter(fd int) (ticket int64, ok bool) {
	if ofdLock(fd, unix.F_WRLCK, 0, queueBase, true) != nil {
		return 0, false
	}
	defer ofdLock(fd, unix.F_UNLCK, 0, queueBase, false)
	var b [queueBase]byte
	n, err := unix.Pread(fd, b[:], 0)
	switch {
	case err != nil:
		return 0, false
	case n == len(b):
		ticket = int64(binary.LittleEndian.Uint64(b[:]) % queueSlots)
	}
	binary.LittleEndian.PutUint64(b[:], uint64((ticket+1)%queueSlots))
	if n, err := unix.Pwrite(fd, b[:], 0); err != nil || n != len(b) {
		return 0, false
	}
	if ofdLock(fd, unix.F_WRLCK, queueBase+ticket, 1, false) != nil {
		return 0, false // a stale holder of the slot: do not wait behind it
	}
	return ticket, true
}

// queueWait waits until the writer holding the ticket before ticket has
// let go of its slot (at once if there is none).
func queueWait(fd int, ticket int64) {
	prev := queueBase + (ticket+queueSlots-1)%queueSlots
	if ofdLock(fd, unix.F_WRLCK, prev, 1, true) == nil {
		ofdLock(fd, unix.F_UNLCK, prev, 1, false)
	}
}

// queueLeave lets go of ticket's slot, which lets its successor move on.
func queueLeave(fd int, ticket int64) {
	ofdLock(fd, unix.F_UNLCK, queueBase+ticket, 1, false)
}
