package replica_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestRestoreNotTakenForEcho: B restores a node whose every field and
// access entry came from A, while A deletes it again without having seen
// the restore, later by the clock. Sync must still send B's restore to A
// (it is not an echo of A's state: it starts a later life), and both end
// live and byte-identical.
func TestRestoreNotTakenForEcho(t *testing.T) {
	ca, cb := &fakeClock{}, &fakeClock{}
	base := int64(1_700_000_000_000)
	ca.ms.Store(base)
	cb.ms.Store(base)
	a := backendtest.New(t, openWith(ca.now)).Open()
	b := backendtest.New(t, openWith(cb.now)).Open()
	m := tiered.New(a, anchor.SystemRoot, nil)
	n, err := m.Create(anchor.KindNode, "Memory", map[string]any{"v": 1})
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	_, err = replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)

	cb.ms.Store(base + 10)
	mb := tiered.New(b, anchor.SystemRoot, nil)
	require.NoError(t, mb.Delete(ctx, n))
	require.NoError(t, mb.Commit(ctx))
	cb.ms.Store(base + 20)
	require.NoError(t, tiered.New(b, anchor.SystemRoot, nil).Restore(ctx, n))
	ca.ms.Store(base + 30)
	m = tiered.New(a, anchor.SystemRoot, nil)
	require.NoError(t, m.Delete(ctx, n)) // concurrent with b's restore, later by the clock
	require.NoError(t, m.Commit(ctx))

	res, err := replica.Sync(ctx, b, a, nil)
	require.NoError(t, err)
	require.Zero(t, res.Export.Skipped, "the restore is not an echo")
	require.True(t, backendtest.Stored(t, a, n).Live(), "the restored life wins over a delete of the life before it")
	syncAll(t, a, b)
	requireSameDumps(t, a, b)
}

// TestRestoreEdgeWaitsForLife: an edge connected to a restored node, sent
// in an earlier chunk than the node's restored record (the node changed
// again after the edge), reaches a store that holds the node's tombstone:
// the edge is held, not tombstoned, and applied by the chunk that brings
// the restore. It stays live on both stores.
func TestRestoreEdgeWaitsForLife(t *testing.T) {
	a, b := newStore(t), newStore(t)
	root := backendtest.NewRootNode(t, a, anchor.Access{})
	m := tiered.New(a, root, nil)
	n, err := m.Create(anchor.KindNode, "Memory", map[string]any{"v": 1})
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	require.NoError(t, m.Delete(ctx, n))
	require.NoError(t, m.Commit(ctx))
	syncAll(t, a, b)

	require.NoError(t, tiered.New(a, root, nil).Restore(ctx, n))
	m = tiered.New(a, root, nil)
	e, err := m.Connect(ctx, root, n, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	require.NoError(t, m.Set(ctx, n, "v", 2)) // n's log entry now follows e's
	require.NoError(t, m.Commit(ctx))

	res, err := replica.Import(ctx, b, bytes.NewReader(exportBytes(t, a, &replica.ExportOptions{ChunkRecords: 1})), nil)
	require.NoError(t, err)
	require.Equal(t, 1, res.Stats.ByKind[anchor.KindEdge].Held, "the edge waited for the restore")
	require.True(t, backendtest.Stored(t, b, n).Live())
	require.True(t, backendtest.Stored(t, b, e).Live(), "an edge of the restored life")
	require.Equal(t, 1, backendtest.EdgeCount(t, b, n))
	syncAll(t, a, b)
	require.True(t, backendtest.Stored(t, a, e).Live())
	requireSameDumps(t, a, b)
}
