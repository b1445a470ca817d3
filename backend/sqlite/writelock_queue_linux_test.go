package sqlite

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// TestWriteLockQueue pins issue 11, item 4 (p99 of 32 processes): every
// release of flock woke every waiting writer at once, and on two cores
// the herd of 31 woken processes delayed the one that won (p99 216–288
// ms against a median of 0.7–40 ms). Now a writer that finds the lock
// taken takes a ticket and waits for the writer before it; a release
// wakes only the next one, and waiters take the lock in the order they
// came. A writer that finds the lock free takes it without a ticket.
func TestWriteLockQueue(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "anchorage.sqlite")
	var locks []*writeLock
	for range 9 {
		l := openWriteLock(path)
		require.NotNil(t, l.f)
		t.Cleanup(func() { l.close() })
		locks = append(locks, l)
	}

	var mu sync.Mutex
	var order []int
	held, err := locks[0].lock(ctx)
	require.NoError(t, err)
	require.True(t, held)
	require.False(t, locks[0].queued, "a free lock is taken without a ticket")
	require.Zero(t, queueNext(t, path))
	var wg sync.WaitGroup
	for i := 1; i < len(locks); i++ {
		wg.Go(func() {
			held, err := locks[i].lock(ctx)
			require.NoError(t, err)
			require.True(t, held)
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			locks[i].unlock()
		})
		// Writer i holds ticket i-1 before writer i+1 asks.
		require.Eventually(t, func() bool { return queueNext(t, path) == uint64(i) }, 5*time.Second, time.Millisecond)
	}
	locks[0].unlock()
	wg.Wait()
	require.Equal(t, []int{1, 2, 3, 4, 5, 6, 7, 8}, order, "waiting writers take the lock in the order they came")

	// The queue is empty again: the next writer finds the lock free.
	held, err = locks[0].lock(ctx)
	require.NoError(t, err)
	require.True(t, held)
	require.False(t, locks[0].queued)
	locks[0].unlock()
}

// TestWriteLockQueueReadOnlyFile: a lock file this process may only read
// (another user's, opened read-only) still excludes writers, through
// flock without the queue.
func TestWriteLockQueueReadOnlyFile(t *testing.T) {
	if !flockSupported {
		t.Skip("no flock on this platform")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "anchorage.sqlite")
	require.NoError(t, os.WriteFile(path+lockSuffix, nil, 0o644))
	readOnly := func() *writeLock {
		f, err := os.Open(path + lockSuffix)
		require.NoError(t, err)
		l := &writeLock{f: f, fd: int(f.Fd())}
		t.Cleanup(func() { l.close() })
		return l
	}
	a, b := readOnly(), readOnly()
	held, err := a.lock(ctx)
	require.NoError(t, err)
	require.True(t, held)
	require.False(t, a.queued, "no ticket without write access")
	c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	held, err = b.lock(c)
	require.ErrorIs(t, err, context.DeadlineExceeded, "the read-only lock file still excludes")
	require.False(t, held)
	a.unlock()
	held, err = b.lock(ctx)
	require.NoError(t, err)
	require.True(t, held)
	b.unlock()
}

// TestWriteLockQueueStalledWaiter: a writer that took a ticket and then
// stopped while it waited (a process stopped by a debugger or in a paused
// container, simulated here by a ticket nobody acts on) does not hold up
// the writers queued behind it once the lock is free: they check for a
// free lock every stallCheck and take it.
func TestWriteLockQueueStalledWaiter(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "anchorage.sqlite")
	holder, stalled, w := openWriteLock(path), openWriteLock(path), openWriteLock(path)
	held, err := holder.lock(ctx)
	require.NoError(t, err)
	require.True(t, held)
	ticket, ok := queueEnter(stalled.fd)
	require.True(t, ok)

	got := make(chan error, 1)
	go func() {
		held, err := w.lock(ctx)
		if err == nil && !held {
			err = errors.New("lock returned without the lock")
		}
		got <- err
	}()
	require.Eventually(t, func() bool { return queueNext(t, path) == uint64(ticket+2) }, // w queued behind the stalled ticket
		5*time.Second, time.Millisecond)
	holder.unlock()
	select {
	case err := <-got:
		require.NoError(t, err)
	case <-time.After(50 * stallCheck): // generous for loaded CI machines; without the check it never comes
		t.Fatal("a stalled waiter holds up the writers queued behind it while the lock is free")
	}
	w.unlock()

	// The stalled writer wakes up and leaves; everything closes cleanly.
	queueLeave(stalled.fd, ticket)
	for _, l := range []*writeLock{holder, stalled, w} {
		require.NoError(t, l.close())
	}
	goleak.VerifyNone(t)
}

// queueNext returns the next ticket of the lock file of the database at
// path, as stored (0 before the first).
func queueNext(t *testing.T, path string) uint64 {
	b, err := os.ReadFile(path + lockSuffix)
	require.NoError(t, err)
	if len(b) < queueBase {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}
