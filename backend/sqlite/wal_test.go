package sqlite_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/delta"
)

// writeBig commits n batches of one 16 KiB field each.
func writeBig(t *testing.T, s *sqlite.Store, root anchor.ID, n int) {
	t.Helper()
	value := bytes.Repeat([]byte{0xc4}, 16<<10)
	for range n {
		id := anchor.NewID()
		require.NoError(t, backendtest.Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: id,
			Create: &anchor.Anchor{ID: id, Kind: anchor.KindNode, Owner: root, Type: "Big", Fields: map[string]anchor.Field{"v": {Value: value}}}}}}))
	}
}

func walBytes(t *testing.T, s *sqlite.Store) int64 {
	t.Helper()
	n, err := s.WALSize()
	require.NoError(t, err)
	return n
}

// TestWALReturnsToLimit pins the unbounded log: a View held while others
// write keeps SQLite from checkpointing past it, so the -wal file grows;
// before Options.WALLimit (PRAGMA journal_size_limit) it never shrank
// again while the store was open (782 MiB after 20 s of writes with one
// held View, still 782 MiB after its release). Now the first commits
// after the View ends bring the file back under WALLimit.
func TestWALReturnsToLimit(t *testing.T) {
	const limit = 1 << 20
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "wal.sqlite"), &sqlite.Options{WALLimit: limit, Synchronous: sqlite.SyncNormal})
	require.NoError(t, err)
	defer s.Close()
	root := backendtest.NewRootNode(t, s, anchor.Access{})

	held, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- s.View(ctx, func(v backend.View) error {
			_, err := v.Anchor(root)
			close(held)
			<-release
			return err
		})
	}()
	<-held
	writeBig(t, s, root, 400) // about 6.5 MiB of pages
	grown := walBytes(t, s)
	require.Greater(t, grown, int64(4*limit), "the held View pins the log (else this test tests nothing)")
	close(release)
	require.NoError(t, <-done)

	writeBig(t, s, root, 3)
	after := walBytes(t, s)
	t.Logf("WAL: %d bytes while the View was held, %d after it ended and 3 more commits (limit %d)", grown, after, limit)
	require.LessOrEqual(t, after, int64(limit))
	size, err := s.Size(ctx)
	require.NoError(t, err)
	require.Less(t, size, grown, "Size follows the log down")
}

// TestMaxViewAge: a View older than Options.MaxViewAge loses its snapshot
// (its reads fail with anchor.ErrBusy) and no longer pins the log, which
// keeps being checkpointed and cut back while the callback still runs
// (without it, the same writes grow the log past 19 MiB).
func TestMaxViewAge(t *testing.T) {
	const limit = 1 << 20
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "age.sqlite"), &sqlite.Options{WALLimit: limit, MaxViewAge: 50 * time.Millisecond, Synchronous: sqlite.SyncNormal})
	require.NoError(t, err)
	defer s.Close()
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	err = s.View(ctx, func(v backend.View) error {
		_, err := v.Anchor(root)
		require.NoError(t, err)
		time.Sleep(100 * time.Millisecond)
		writeBig(t, s, root, 400)
		// The log is cut back each time it passes the 1000-page
		// autocheckpoint: it stays under that plus one transaction.
		require.LessOrEqual(t, walBytes(t, s), int64(6<<20), "an expired View must not pin the log")
		_, err = v.Anchor(root)
		require.ErrorIs(t, err, anchor.ErrBusy)
		return nil
	})
	require.NoError(t, err)
}
