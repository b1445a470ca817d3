package bolt_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestPurgeCompactRefusesOpenStore: a store open in this (or another)
// process holds bolt's file lock, so Compact refuses it and leaves it as
// it was; the open store cannot compact itself either.
func TestPurgeCompactRefusesOpenStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	_, err = bolt.Compact(context.Background(), path, &bolt.CompactOptions{Timeout: 50 * time.Millisecond})
	require.ErrorIs(t, err, anchor.ErrLocked)
	_, err = s.Compact(context.Background())
	require.ErrorIs(t, err, backend.ErrNoCompact)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, before, after, "a refused compaction leaves the file alone")
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	require.Len(t, entries, 1, "and no new file behind")

	require.NoError(t, s.Close())
	// A process that opened the file before the rename holds the old one
	// (a hard link stands for it): it must not open as a store any more.
	ghost := path + ".ghost"
	require.NoError(t, os.Link(path, ghost))
	st, err := bolt.Compact(context.Background(), path, nil)
	require.NoError(t, err)
	require.Positive(t, st.After)
	_, err = bolt.Open(ghost, &bolt.Options{ReadOnly: true})
	require.Error(t, err, "the old file is spoilt")
	require.NoError(t, os.Remove(ghost))
	s, err = bolt.Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	backendtest.RequireClean(t, s)
	require.True(t, backendtest.Stored(t, s, root).Live())
}

// TestPurgeCompactRefusesNonStore: a file that is not a store is refused
// and left unchanged.
func TestPurgeCompactRefusesNonStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	body := []byte("not a bolt store, just some text that happens to be here\n")
	require.NoError(t, os.WriteFile(path, body, 0o600))
	_, err := bolt.Compact(context.Background(), path, nil)
	require.Error(t, err)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, body, got)
	_, err = bolt.Compact(context.Background(), filepath.Join(t.TempDir(), "missing.db"), nil)
	require.ErrorIs(t, err, os.ErrNotExist)
}

// TestPurgeReadOnlyRefused: a store opened read-only neither purges nor
// compacts.
func TestPurgeReadOnlyRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	backendtest.NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())
	s, err = bolt.Open(path, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Purge(context.Background(), anchor.MakeHLC(time.Now().UnixMilli(), 0), nil)
	require.ErrorIs(t, err, anchor.ErrReadOnly)
	_, err = s.Compact(context.Background())
	require.ErrorIs(t, err, anchor.ErrReadOnly)
}

// TestPurgeStopsAtClose: Close stops a running purge after its chunk; the
// chunks before stand and the store is consistent.
func TestPurgeStopsAtClose(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := bolt.Open(path, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	hub, err := m.Create(anchor.KindNode, "Hub", nil)
	require.NoError(t, err)
	for range 40 {
		p, err := m.Create(anchor.KindNode, "P", nil)
		require.NoError(t, err)
		_, err = m.Connect(ctx, hub, p, "L", nil)
		require.NoError(t, err)
	}
	require.NoError(t, m.Commit(ctx))
	m = tiered.New(s, root, nil)
	require.NoError(t, m.Delete(ctx, hub))
	require.NoError(t, m.Commit(ctx))
	before := backendtest.Stored(t, s, hub).Deleted + 1

	closed := make(chan error, 1)
	st, err := s.Purge(ctx, before, &backend.PurgeOptions{Chunk: 10, Progress: func(backend.PurgeStats) {
		if len(closed) > 0 {
			return
		}
		go func() { closed <- s.Close() }()
		for s.View(ctx, func(backend.View) error { return nil }) == nil {
			time.Sleep(time.Millisecond)
		}
	}})
	require.ErrorIs(t, err, anchor.ErrClosed)
	require.Equal(t, 10, st.Purged)
	require.NoError(t, <-closed)
	s, err = bolt.Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	r := backendtest.RequireClean(t, s)
	require.Equal(t, 41-10, r.Tombstones)
}
