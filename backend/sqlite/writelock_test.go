package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// holdWriter opens a second driver on the store at path, as another
// process would, and begins a write transaction on it: it holds the lock
// file and SQLite's write lock until release (idempotent; also run at
// cleanup) rolls it back and closes the driver.
func holdWriter(t *testing.T, path string) (release func()) {
	t.Helper()
	if !sqlite.FlockSupported {
		t.Skip("no flock on this platform: writers poll SQLite's lock as before")
	}
	d, err := sqlite.OpenDriver(path, nil)
	require.NoError(t, err)
	tx, err := d.Begin(ctx)
	require.NoError(t, err)
	done := make(chan struct{})
	release = func() {
		select {
		case <-done:
			return
		default:
		}
		close(done)
		require.NoError(t, tx.Rollback())
		require.NoError(t, d.Close())
	}
	t.Cleanup(release)
	return release
}

// TestQueuedWriterDoesNotPoll pins issue 11, item 4: a writer that found
// the database taken by another anchorage writer polled SQLite's lock
// (busy_timeout 10ms, then a 1–10ms backoff, again and again), so across
// 32 processes most of the time went to polling and a released lock sat
// idle. Now it sleeps on the lock file and runs BEGIN IMMEDIATE once,
// right after the other writer lets go.
func TestQueuedWriterDoesNotPoll(t *testing.T) {
	bothModes(t, func(t *testing.T, opts *sqlite.Options) {
		s := newStore(t, opts)
		root := backendtest.NewRootNode(t, s, anchor.Access{})
		release := holdWriter(t, s.Path())
		const hold = 300 * time.Millisecond
		b, id := nodeBatch(root)
		begins := sqlite.Begins(s)
		released := make(chan time.Time, 1)
		start := time.Now()
		time.AfterFunc(hold, func() { release(); released <- time.Now() })
		require.NoError(t, backendtest.Apply(ctx, s, b))
		end := time.Now()
		require.GreaterOrEqual(t, end.Sub(start), hold-50*time.Millisecond)
		require.Less(t, end.Sub(<-released), 200*time.Millisecond, "the commit follows the release")
		require.Equal(t, uint64(1), sqlite.Begins(s)-begins, "a writer queued on the lock file runs BEGIN IMMEDIATE once")
		require.NotNil(t, backendtest.Stored(t, s, id))
	})
}

// TestQueuedWriterGivesUp: a caller whose context ends while its write
// waits on the lock file gets a *BusyError wrapping anchor.ErrBusy and
// the context's error, at its deadline (with group commit too: the
// committer waiting for the lock does not hold the caller), nothing of
// its batch lands, and once the other writer lets go the abandoned wait
// ends and leaves no goroutine behind.
func TestQueuedWriterGivesUp(t *testing.T) {
	bothModes(t, func(t *testing.T, opts *sqlite.Options) {
		path := filepath.Join(t.TempDir(), "anchorage.sqlite")
		s, err := sqlite.Open(path, opts)
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		root := backendtest.NewRootNode(t, s, anchor.Access{})
		release := holdWriter(t, path)
		// Without a way out the test would hang; 2s is far past the
		// deadline below.
		safety := time.AfterFunc(2*time.Second, release)
		defer safety.Stop()

		const deadline = 200 * time.Millisecond
		b, id := nodeBatch(root)
		c, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		start := time.Now()
		err = backendtest.Apply(c, s, b)
		took := time.Since(start)
		require.ErrorIs(t, err, anchor.ErrBusy)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var be *sqlite.BusyError
		require.True(t, errors.As(err, &be), "want *sqlite.BusyError, got %T: %v", err, err)
		require.Less(t, took, deadline+time.Second, "Apply must give up soon after its deadline")
		requireAbsent(t, s, id)

		release()
		b2, id2 := nodeBatch(root)
		require.NoError(t, backendtest.Apply(ctx, s, b2))
		require.NotNil(t, backendtest.Stored(t, s, id2))
		requireAbsent(t, s, id)
		backendtest.RequireClean(t, s)
		require.NoError(t, s.Close())
		goleak.VerifyNone(t)
	})
}

// TestCloseWhileQueued: Close does not wait for a lock-file wait that a
// caller gave up; that wait ends once the other writer lets go, releases
// the lock and closes the file, leaving no goroutine and no lock behind.
func TestCloseWhileQueued(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchorage.sqlite")
	s, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	release := holdWriter(t, path)
	c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	b, _ := nodeBatch(root)
	require.ErrorIs(t, backendtest.Apply(c, s, b), anchor.ErrBusy)
	start := time.Now()
	require.NoError(t, s.Close())
	require.Less(t, time.Since(start), time.Second, "Close waits for no lock")
	release()

	s2, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	b2, id2 := nodeBatch(root)
	c2, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	require.NoError(t, backendtest.Apply(c2, s2, b2), "the closed Store's wait let go of the lock")
	require.NotNil(t, backendtest.Stored(t, s2, id2))
	require.NoError(t, s2.Close())
	goleak.VerifyNone(t)
}

// TestLockFile: a read-write open creates the lock file with the database
// file's permissions; a read-only open neither creates nor needs it.
func TestLockFile(t *testing.T) {
	if !sqlite.FlockSupported {
		t.Skip("no flock on this platform")
	}
	path := filepath.Join(t.TempDir(), "anchorage.sqlite")
	s, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	backendtest.NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	db, err := os.Stat(path)
	require.NoError(t, err)
	lock, err := os.Stat(path + sqlite.LockSuffix)
	require.NoError(t, err)
	require.Equal(t, db.Mode().Perm(), lock.Mode().Perm())

	require.NoError(t, os.Remove(path+sqlite.LockSuffix))
	ro, err := sqlite.Open(path, &sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, ro.View(ctx, func(backend.View) error { return nil }))
	require.NoError(t, ro.Close())
	require.NoFileExists(t, path+sqlite.LockSuffix, "a read-only open writes nothing")
}

// TestNoLockFileFallsBack: when the lock file cannot be opened (here a
// directory stands in its place; a read-only directory does the same),
// writers fall back to SQLite's busy timeout: a foreign lock still only
// delays a commit.
func TestNoLockFileFallsBack(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anchorage.sqlite")
	require.NoError(t, os.Mkdir(path+sqlite.LockSuffix, 0o755))
	s, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	release := lockDB(t, path)
	time.AfterFunc(100*time.Millisecond, release)
	b, id := nodeBatch(root)
	require.NoError(t, backendtest.Apply(ctx, s, b))
	require.NotNil(t, backendtest.Stored(t, s, id))
	require.Greater(t, sqlite.Begins(s), uint64(2), "without the lock file the writer polls, as before")
}
