package tiered_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestRestoreStaleCopy: a walker whose L1 still holds a live copy of an
// anchor another walker deleted restores it in the store all the same, and
// then reads the restored anchor; a walker's own uncommitted delete is
// undone by its restore, and its uncommitted field changes to a live copy
// are kept for its next Commit.
func TestRestoreStaleCopy(t *testing.T) {
	ctx := context.Background()
	s := backendtest.New(t, openBolt).Open()
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	w := tiered.New(s, root, nil)
	n, err := w.Create(anchor.KindNode, "Memory", map[string]any{"v": 1})
	require.NoError(t, err)
	require.NoError(t, w.Commit(ctx))

	stale := tiered.New(s, root, nil)
	_, err = stale.Get(ctx, n) // a live copy in its L1
	require.NoError(t, err)
	other := tiered.New(s, root, nil)
	require.NoError(t, other.Delete(ctx, n))
	require.NoError(t, other.Commit(ctx))

	require.NoError(t, stale.Restore(ctx, n))
	require.True(t, backendtest.Stored(t, s, n).Live(), "restored in the store, whatever the walker's copy said")
	got, err := stale.Get(ctx, n)
	require.NoError(t, err)
	require.NotZero(t, got.Restored, "the walker reads the restored anchor")

	// An uncommitted delete is undone by the restore.
	require.NoError(t, stale.Delete(ctx, n))
	require.NoError(t, stale.Restore(ctx, n))
	require.NoError(t, stale.Commit(ctx))
	require.True(t, backendtest.Stored(t, s, n).Live())

	// Uncommitted field changes to a live copy survive a restore.
	require.NoError(t, stale.Set(ctx, n, "v", 2))
	require.NoError(t, stale.Restore(ctx, n))
	require.NoError(t, stale.Commit(ctx))
	var v int
	require.NoError(t, backendtest.Stored(t, s, n).Field("v", &v))
	require.Equal(t, 2, v)
}
