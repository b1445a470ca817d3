package backendtest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// testConnectAndChangeEnd: a batch that connects to a node and, in the
// same batch, changes or deletes that node. Apply checks an edge's ends
// without copying them (the group read cache's own value) and copies one
// only when a later change of the batch writes it; concurrent batches of
// one group share the cached root meanwhile. A check that changed the
// cached value, or a change that did not copy it first, would show here
// as a field of one batch in another's record or a lost field.
func testConnectAndChangeEnd(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{All: anchor.Connect})
	const walkers = 8
	var wg sync.WaitGroup
	errs := make(chan error, walkers)
	for i := range walkers {
		wg.Go(func() {
			n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "N"}
			e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "E", Source: root, Target: n.ID}
			v, err := anchor.EncodeValue(i)
			if err != nil {
				errs <- err
				return
			}
			errs <- Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{
				{ID: root, Set: map[string][]byte{fmt.Sprintf("f%d", i): v}}, // listed first, applied after the edge's check
				{ID: e.ID, Create: e},
				{ID: n.ID, Create: n},
			}})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, walkers, EdgeCount(t, s, root))
	a := Stored(t, s, root)
	require.Len(t, a.Fields, walkers, "every batch's field on the root, and only those")
	for i := range walkers {
		var got int
		require.NoError(t, a.Field(fmt.Sprintf("f%d", i), &got))
		require.Equal(t, i, got)
	}

	// Connect to a node and delete it in one batch: the delete cascades
	// over the new edge too.
	n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "N"}
	require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}}}))
	e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "E", Source: root, Target: n.ID}
	require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Delete: true}, {ID: e.ID, Create: e}}}))
	require.Equal(t, walkers, EdgeCount(t, s, root))
	require.False(t, Stored(t, s, n.ID).Live())
	require.False(t, Stored(t, s, e.ID).Live())
}
