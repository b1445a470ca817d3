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

// TestDeltaBeforeBaseHoldsEdges: a delta export (an edge to nodes of the
// base) imported before its base holds the edge, not refuses it; the store
// stays clean; importing the base afterwards brings the edge in, and the
// result equals the source.
func TestDeltaBeforeBaseHoldsEdges(t *testing.T) {
	a, b := newStore(t), newStore(t)
	root := buildGraph(t, a)
	base := exportBytes(t, a, nil)
	seq := backendtest.Meta(t, a).Seq
	m := tiered.New(a, root, nil)
	n, err := m.Create(anchor.KindNode, "New", nil)
	require.NoError(t, err)
	_, err = m.Connect(ctx, root, n, "Late", map[string]any{"k": 1}) // root is in the base only
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	deltaFile := exportBytes(t, a, &replica.ExportOptions{After: seq})

	res, err := replica.Import(ctx, b, bytes.NewReader(deltaFile), nil)
	require.NoError(t, err)
	total := res.Stats.Total()
	require.Zero(t, total.Refused, "%+v", res.Stats.Refusals)
	require.Equal(t, 1, total.Held)
	backendtest.RequireClean(t, b)
	// Again: still held, once.
	_, err = replica.Import(ctx, b, bytes.NewReader(exportBytes(t, a, &replica.ExportOptions{After: seq})), nil)
	require.NoError(t, err)

	_, err = replica.Import(ctx, b, bytes.NewReader(base), nil)
	require.NoError(t, err)
	require.Equal(t, dump(t, a), dump(t, b))
	requireSameDumps(t, a, b)
	require.Equal(t, backendtest.EdgeCount(t, a, root), backendtest.EdgeCount(t, b, root))
	backendtest.RequireClean(t, b)
}
