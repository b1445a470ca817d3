package sqlite

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sync"
	"time"
)

// lockSuffix names the lock file next to the database: path + lockSuffix.
const lockSuffix = "-lock"

// writeLock is the advisory lock that orders the writers of every process
// sharing a database: a file next to it, locked exclusively (flock) from
// before BEGIN IMMEDIATE until after COMMIT or ROLLBACK. A writer waiting
// for it sleeps in the kernel and is woken when the holder lets go,
// instead of polling SQLite's lock. It is only a queue: SQLite's own lock
// still guards the data, so a writer that does not take this lock (the
// sqlite3 shell, an older build) is met by the busy timeout and retries as
// before.
//
// A lock is per open file description, so each Store opens its own and
// two Stores in one process exclude each other like two processes. On
// Linux a writer that finds it taken queues for it behind the writers
// already waiting (the ticket queue, see queueEnter), so that a release
// wakes one waiter, not all.
//
// lock and unlock are called by the one goroutine that runs the Store's
// write transaction at a time; close may be called from any goroutine.
type writeLock struct {
	f  *os.File // nil: no lock file; lock and unlock do nothing
	fd int

	// ticket is the queue ticket of the holder (or of the acquisition
	// under way), queued whether it has one; both belong to the
	// goroutine that takes and releases the lock.
	ticket int64
	queued bool

	mu      sync.Mutex
	pending *lockWait // an acquisition still blocked in the kernel, or nil
	// turns counts the waits for a predecessor (waitTurn) still blocked
	// in the kernel; the file stays open until the last one returns.
	turns  int
	closed bool
}

// lockWait is one blocking acquisition, run in a goroutine of its own so
// that the caller's context can end the wait.
type lockWait struct {
	done chan error // buffered: the result, sent unless abandoned
	// abandoned: nobody waits for the result any more; the goroutine
	// releases the lock as soon as it gets it.
	abandoned bool
}

// openWriteLock opens (creating it if need be) the lock file of the
// database at path, with the permissions of the database file so that
// whoever may write the one may lock the other. It returns a writeLock
// that does nothing if the file cannot be opened (a read-only directory,
// say) or the platform has no flock: writers then rely on SQLite's busy
// timeout alone.
func openWriteLock(path string) *writeLock {
	if !flockSupported {
		return &writeLock{}
	}
	perm := fs.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm() & 0o666
	}
	// The queue writes its ticket counter into the file; read-only is
	// enough for flock, and lets a writer lock a file it may read but
	// another user created (it then takes flock without queueing).
	f, err := os.OpenFile(path+lockSuffix, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		if f, err = os.OpenFile(path+lockSuffix, os.O_RDONLY|os.O_CREATE, perm); err != nil {
			return &writeLock{}
		}
	}
	return &writeLock{f: f, fd: int(f.Fd())}
}

// lock takes the lock, waiting in the kernel for as long as ctx allows. It
// reports whether the lock is held: false with a nil error if there is no
// lock file or flock failed (the caller proceeds under SQLite's lock
// alone), false with ctx's error if ctx ended first. An acquisition that
// ctx cut short goes on in the background and lets go of the lock as soon
// as it gets it, unless the next lock call takes it over.
func (l *writeLock) lock(ctx context.Context) (bool, error) {
	if l.f == nil {
		return false, nil
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return false, nil
	}
	w := l.pending
	if w == nil {
		w = &lockWait{done: make(chan error, 1)}
		l.pending = w
		go l.acquire(w)
	} else {
		w.abandoned = false // take over the acquisition a caller gave up
	}
	l.mu.Unlock()
	select {
	case err := <-w.done:
		return err == nil, nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case err := <-w.done:
		return err == nil, nil // got it meanwhile: use it
	default:
		w.abandoned = true
		return false, ctx.Err()
	}
}

// acquire takes the lock if it is free, or else queues (queueEnter) and
// blocks in flock until it is taken, then hands it to the waiting lock
// call, or releases it if nobody waits any more.
func (l *writeLock) acquire(w *lockWait) {
	var err error
	if !flockTry(l.fd) {
		l.ticket, l.queued = queueEnter(l.fd)
		if !l.queued || l.waitTurn() {
			err = flockExclusive(l.fd)
		}
		if err != nil {
			l.leaveQueue()
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = nil
	if w.abandoned {
		if err == nil {
			l.unlock()
		}
		l.closeIfDone()
		return
	}
	w.done <- err
}

// stallCheck is how often a queued writer looks whether flock is free
// while it still waits for its predecessor. A predecessor stopped while
// it waits (by a debugger, in a paused container) would otherwise hold
// up every writer queued behind it, free as the database is.
const stallCheck = 100 * time.Millisecond

// waitTurn waits until the writer before l's ticket is done and reports
// true; or, if it finds flock free meanwhile, takes it and reports false
// (the wait for the predecessor goes on in the background and lets go of
// its slot when it returns).
func (l *writeLock) waitTurn() bool {
	turn := make(chan struct{})
	l.mu.Lock()
	l.turns++
	l.mu.Unlock()
	go func(ticket int64) {
		queueWait(l.fd, ticket)
		close(turn)
		l.mu.Lock()
		defer l.mu.Unlock()
		l.turns--
		l.closeIfDone()
	}(l.ticket)
	tick := time.NewTicker(stallCheck)
	defer tick.Stop()
	for {
		select {
		case <-turn:
			return true
		case <-tick.C:
			if flockTry(l.fd) {
				return false
			}
		}
	}
}

// closeIfDone closes the file of a closed writeLock once no wait in the
// kernel uses it any more. l.mu must be held.
func (l *writeLock) closeIfDone() {
	if l.closed && l.pending == nil && l.turns == 0 {
		l.f.Close()
	}
}

// unlock releases the lock taken by lock, then the queue's slot, so that
// the next writer in the queue finds flock free.
func (l *writeLock) unlock() {
	if l.f != nil {
		flockRelease(l.fd)
		l.leaveQueue()
	}
}

// leaveQueue lets go of the queue ticket, if any.
func (l *writeLock) leaveQueue() {
	if l.queued {
		queueLeave(l.fd, l.ticket)
		l.queued = false
	}
}

// close releases the lock and closes the file; an acquisition or a wait
// for a predecessor still blocked in the kernel closes it once it
// returns. Idempotent.
func (l *writeLock) close() error {
	if l.f == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.pending != nil {
		l.pending.abandoned = true
	}
	if l.pending != nil || l.turns > 0 {
		return nil // closed by closeIfDone when the last wait returns
	}
	if err := l.f.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}
