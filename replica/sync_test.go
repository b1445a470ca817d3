package replica_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestSyncDoesNotEcho: after A→B, B→A sends none of A's records back.
func TestSyncDoesNotEcho(t *testing.T) {
	a, b := newStore(t), newStore(t)
	buildGraph(t, a)
	res, err := replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)
	n := res.Import.Records
	require.Positive(t, n)
	res, err = replica.Sync(ctx, b, a, nil)
	require.NoError(t, err)
	require.Zero(t, res.Import.Records, "nothing echoed")
	require.Equal(t, n, res.Export.Skipped)
	requireSameDumps(t, a, b)
}

// TestInterruptedSyncResumes: a link that drops after every third chunk
// still completes, and no record is sent twice across the attempts.
func TestInterruptedSyncResumes(t *testing.T) {
	a, b := newStore(t), newStore(t)
	buildGraph(t, a)
	total := 0
	require.NoError(t, a.View(ctx, func(v backend.View) error {
		return v.Changes(0, func(uint64, anchor.ID) error { total++; return nil })
	}))
	sent, attempts := 0, 0
	for ; attempts < 100; attempts++ {
		cctx, cancel := context.WithCancel(ctx)
		res, err := replica.Sync(cctx, a, b, &replica.ImportOptions{ChunkRecords: 5,
			Progress: func(p replica.Progress) {
				if p.Chunks == 3 {
					cancel()
				}
			}})
		cancel()
		if res != nil && res.Import != nil {
			sent += res.Import.Records
		}
		if err == nil {
			break
		}
		require.ErrorIs(t, err, context.Canceled)
	}
	require.Less(t, attempts, 100, "the sync never completed")
	require.Greater(t, attempts, 2)
	require.Equal(t, total, sent, "no record sent twice")
	requireSameDumps(t, a, b)
}

// TestRestoredSourceSendsNewWork: A is restored from a backup older than
// B's cursor for it, then writes new work (a little, or more than it
// lost); the next sync sends that work, and B→A gives A back what the
// restore lost.
func TestRestoredSourceSendsNewWork(t *testing.T) {
	for _, newWork := range []int{2, 60} {
		dir := t.TempDir()
		path := filepath.Join(dir, "a.db")
		open := func() backend.Store {
			s, err := bolt.Open(path, &bolt.Options{NoSync: true})
			require.NoError(t, err)
			return s
		}
		a, b := open(), newStore(t)
		root := buildGraph(t, a)
		require.NoError(t, a.Close())
		backup, err := os.ReadFile(path)
		require.NoError(t, err)
		a = open()
		lost := addNodes(t, a, root, 20)
		_, err = replica.Sync(ctx, a, b, nil)
		require.NoError(t, err)
		require.NoError(t, a.Close())
		require.NoError(t, os.WriteFile(path, backup, 0o600))
		a = open()
		fresh := addNodes(t, a, root, newWork)
		res, err := replica.Sync(ctx, a, b, nil)
		require.NoError(t, err)
		require.True(t, res.Resynced, "new work %d", newWork)
		for _, id := range fresh {
			require.True(t, backendtest.Stored(t, b, id).Live())
		}
		_, err = replica.Sync(ctx, b, a, nil)
		require.NoError(t, err)
		for _, id := range lost {
			require.True(t, backendtest.Stored(t, a, id).Live(), "lost work comes back")
		}
		requireSameDumps(t, a, b)
		require.NoError(t, a.Close())
	}
}

func addNodes(t *testing.T, s backend.Store, root anchor.ID, n int) []anchor.ID {
	m := tiered.New(s, root, nil)
	var ids []anchor.ID
	for i := range n {
		id, err := m.Create(anchor.KindNode, "Added", map[string]any{"i": i})
		require.NoError(t, err)
		ids = append(ids, id)
	}
	require.NoError(t, m.Commit(ctx))
	return ids
}

// TestSyncIntoItself: syncing a store into itself (or a copy with the same
// identity) is refused with a message that says so.
func TestSyncIntoItself(t *testing.T) {
	a := newStore(t)
	buildGraph(t, a)
	_, err := replica.Sync(ctx, a, a, nil)
	require.ErrorIs(t, err, anchor.ErrIntegrity)
	require.Contains(t, err.Error(), "same store")
}
