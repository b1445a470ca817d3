package replica_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/replica"
)

// TestReidentifyCopy: a store copied with cp cannot sync with its original
// (same identity); Reidentify moves the copy into a new store, which then
// syncs with the original both ways and converges, with the copy's own
// writes and the original's.
func TestReidentifyCopy(t *testing.T) {
	dir := t.TempDir()
	open := func(name string) backend.Store {
		s, err := bolt.Open(filepath.Join(dir, name), &bolt.Options{NoSync: true})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		return s
	}
	a := open("a.db")
	root := buildGraph(t, a)
	require.NoError(t, a.Close())
	raw, err := os.ReadFile(filepath.Join(dir, "a.db"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "copy.db"), raw, 0o600))
	a, c := open("a.db"), open("copy.db")
	onA, onCopy := addNodes(t, a, root, 3), addNodes(t, c, root, 4)
	_, err = replica.Sync(ctx, c, a, nil)
	require.ErrorIs(t, err, anchor.ErrIntegrity)
	require.Contains(t, err.Error(), "copy made with cp")

	fresh := open("fresh.db")
	require.NoError(t, replica.Reidentify(ctx, c, fresh))
	require.NotEqual(t, backendtest.Meta(t, a).StoreID, backendtest.Meta(t, fresh).StoreID)
	require.ErrorIs(t, replica.Reidentify(ctx, c, fresh), anchor.ErrIntegrity, "only into an empty store")
	syncAll(t, a, fresh)
	for _, id := range append(onA, onCopy...) {
		require.True(t, backendtest.Stored(t, a, id).Live())
		require.True(t, backendtest.Stored(t, fresh, id).Live())
	}
	requireSameDumps(t, a, fresh)
}
