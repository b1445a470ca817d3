package backendtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// testRestore: what a backend owes restores (undelete). A restore needs
// Write on the tombstone; it brings the anchor back under its ID with its
// fields, stamped as restored (the stamp survives a reopen); the edges the
// deletion took stay deleted, with no adjacency rows; a new edge records
// the endpoint's restored life; an older tombstone merged afterwards
// leaves the anchor live, and a later life merged in wins over the stored
// one.
func testRestore(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "Memory", map[string]any{"v": 7})
	require.NoError(t, err)
	e, err := m.Connect(ctx, root, n, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	require.NoError(t, m.Delete(ctx, n))
	require.NoError(t, m.Commit(ctx))
	tomb := Stored(t, s, n)

	stranger := anchor.NewID()
	requireAnchorErr(t, tiered.New(s, stranger, nil).Restore(ctx, n), anchor.ErrAccessDenied, n)
	requireAnchorErr(t, tiered.New(s, root, nil).Restore(ctx, e), anchor.ErrIntegrity, e)
	require.NoError(t, tiered.New(s, root, nil).Restore(ctx, n))

	s = h.Reopen(s)
	got := Stored(t, s, n)
	require.True(t, got.Live())
	require.Greater(t, got.Restored, tomb.Deleted)
	require.Equal(t, got.Restored, got.Updated)
	var v int
	require.NoError(t, tiered.New(s, root, nil).Field(ctx, n, "v", &v))
	require.Equal(t, 7, v)
	require.False(t, Stored(t, s, e).Live(), "the cascade's edge stays deleted")
	require.Zero(t, EdgeCount(t, s, n))

	m = tiered.New(s, root, nil)
	again, err := m.Connect(ctx, root, n, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	require.Equal(t, got.Restored, Stored(t, s, again).TargetEpoch)
	require.Equal(t, 1, EdgeCount(t, s, n))

	res, err := s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{tomb}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Stats.ByKind[anchor.KindNode].Conflicts, "the older tombstone lost")
	require.True(t, Stored(t, s, n).Live())

	// A later life from another replica (restored after a delete there)
	// wins, and takes the edge of the life it replaces.
	later := Stored(t, s, n)
	later.Restored = Meta(t, s).HLC + 10
	later.Updated = later.Restored
	res, err = s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{later}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Stats.ByKind[anchor.KindNode].Updated)
	require.Equal(t, later.Restored, Stored(t, s, n).Restored)
	require.False(t, Stored(t, s, again).Live(), "an edge of the replaced life")
	require.Zero(t, EdgeCount(t, s, n))
}
