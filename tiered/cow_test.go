package tiered_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestGetViewIsImmutable pins the copy-on-write contract of Get: the
// anchor it returns is shared with L1 without a copy, and nothing the
// walker does afterwards (Set, Grant, Delete, Commit) changes it.
func TestGetViewIsImmutable(t *testing.T) {
	ctx, s := context.Background(), tempStore(t)
	root, other := anchor.NewID(), anchor.NewID()
	m := tiered.New(s, root, nil)
	id, err := m.Create(anchor.KindNode, "Profile", map[string]any{"name": "ada"})
	require.NoError(t, err)
	created, err := m.Get(ctx, id)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	require.Zero(t, created.Created, "the view of the new anchor was not stamped in place")

	m = tiered.New(s, root, nil)
	v1, err := m.Get(ctx, id)
	require.NoError(t, err)
	before := v1.Clone()
	again, err := m.Get(ctx, id)
	require.NoError(t, err)
	require.Same(t, v1, again, "an L1 hit does not copy")

	require.NoError(t, m.Set(ctx, id, "name", "grace"))
	require.NoError(t, m.Grant(ctx, id, other, anchor.Read))
	require.Equal(t, before, v1, "Set and Grant copy before changing")
	v2, err := m.Get(ctx, id)
	require.NoError(t, err)
	var name string
	require.NoError(t, v2.Field("name", &name))
	require.Equal(t, "grace", name)
	require.Equal(t, anchor.Read, v2.Access.Roots[other])

	seen := v2.Clone()
	require.NoError(t, m.Commit(ctx))
	require.Equal(t, before, v1)
	require.Equal(t, seen, v2, "Commit stamps a copy, not the view")

	require.NoError(t, m.Set(ctx, id, "name", "hopper"))
	require.NoError(t, m.Delete(ctx, id))
	require.True(t, v2.Live())
	require.NoError(t, v2.Field("name", &name))
	require.Equal(t, "grace", name)
	_, err = m.Get(ctx, id)
	require.ErrorIs(t, err, anchor.ErrDeleted)
}

// tempStore opens a bolt store (fsync off) in a temporary directory, closed
// when the test ends.
func tempStore(t testing.TB) backend.Store {
	s := openBolt(t, t.TempDir())
	t.Cleanup(func() { s.Close() })
	return s
}
