package replica_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// syncAll syncs every ordered pair of stores until a round moves nothing
// (bounded), so every produced version has reached every store.
func syncAll(t *testing.T, stores ...backend.Store) {
	t.Helper()
	for range 6 {
		moved := false
		for _, src := range stores {
			for _, dst := range stores {
				if src == dst {
					continue
				}
				before := backendtest.Meta(t, dst).Seq
				_, err := replica.Sync(ctx, src, dst, nil)
				require.NoError(t, err)
				moved = moved || backendtest.Meta(t, dst).Seq != before
			}
		}
		if !moved {
			return
		}
	}
	t.Fatal("syncs did not settle after 6 rounds")
}

// TestAccessTieConverges: two stores whose clocks agree to the millisecond
// change the same access entries with equal stamps (Access.All and one
// root's grant); after syncing both ways their full dumps are identical.
func TestAccessTieConverges(t *testing.T) {
	fixed := func() time.Time { return time.UnixMilli(1_700_000_000_000) }
	a := backendtest.New(t, openWith(fixed)).Open()
	b := backendtest.New(t, openWith(fixed)).Open()
	root := backendtest.NewRootNode(t, a, anchor.Access{})
	other := anchor.NewID()
	_, err := replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)
	require.Equal(t, backendtest.Meta(t, a).HLC, backendtest.Meta(t, b).HLC)
	for i, s := range []backend.Store{a, b} {
		m := tiered.New(s, anchor.SystemRoot, nil)
		lvl := []anchor.Level{anchor.Read, anchor.Write}[i]
		require.NoError(t, m.SetAccess(ctx, root, anchor.Access{All: lvl, Roots: map[anchor.ID]anchor.Level{other: lvl}}))
		require.NoError(t, m.Commit(ctx))
	}
	sa, sb := backendtest.Stored(t, a, root), backendtest.Stored(t, b, root)
	require.Equal(t, sa.AccessStamps[other].At, sb.AccessStamps[other].At, "the test needs a real tie")
	syncAll(t, a, b)
	require.Equal(t, fullDump(t, a), fullDump(t, b))
	lvl, _ := backendtest.Stored(t, a, root).Access.Entry(other)
	require.NotEqual(t, anchor.NoAccess, lvl)
}

// TestTombstoneStampsConverge: tombstones end identical, Deleted and
// Updated stamps included, whichever way the syncs run first: an edge
// added on A while B deletes its node, and a node (with an edge) deleted
// on both stores at different times.
func TestTombstoneStampsConverge(t *testing.T) {
	for _, aFirst := range []bool{true, false} {
		a, b := newStore(t), newStore(t)
		root := backendtest.NewRootNode(t, a, anchor.Access{})
		ma := tiered.New(a, root, nil)
		n, err := ma.Create(anchor.KindNode, "N", nil)
		require.NoError(t, err)
		both, err := ma.Create(anchor.KindNode, "Both", nil)
		require.NoError(t, err)
		_, err = ma.Connect(ctx, root, both, "Has", nil)
		require.NoError(t, err)
		require.NoError(t, ma.Commit(ctx))
		syncAll(t, a, b)

		mb := tiered.New(b, root, nil)
		require.NoError(t, mb.Delete(ctx, n))
		require.NoError(t, mb.Delete(ctx, both))
		require.NoError(t, mb.Commit(ctx))
		time.Sleep(2 * time.Millisecond)
		ma = tiered.New(a, root, nil)
		_, err = ma.Connect(ctx, root, n, "Late", map[string]any{"w": 1})
		require.NoError(t, err)
		require.NoError(t, ma.Delete(ctx, both)) // later than b's delete
		require.NoError(t, ma.Commit(ctx))
		if aFirst {
			syncAll(t, a, b)
		} else {
			syncAll(t, b, a)
		}
		requireSameDumps(t, a, b)
	}
}
