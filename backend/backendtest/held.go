package backendtest

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// The held edges of replication (delta.CountHeld): edges that arrive
// before an endpoint.

// testHeldEdgeKeepsPrincipal pins a hole of the held edges (delta.CountHeld):
// a held edge did not remember the root whose merge sent it, and was
// applied later as the root of whichever merge brought its endpoint. So
// root B, lacking Connect on A's node N, connected to N by sending the
// edge before N reached the store (held: no endpoint to check), and the
// owner's trusted replication of N then applied it unchecked; and B's
// legitimate edge, released by a merge acting as A, was refused and lost
// ("A may not create an anchor owned by B"). A held edge is now applied as
// the root that sent it, with every check done once its endpoints are here.
func testHeldEdgeKeepsPrincipal(t *testing.T, h *Harness) {
	s := h.Open()
	a, b := NewRootNode(t, s, anchor.Access{}), NewRootNode(t, s, anchor.Access{})
	stamp := Meta(t, s).HLC + 10
	node := func(acc anchor.Access) *anchor.Anchor {
		return &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: a, Type: "Doc", Access: acc, Created: stamp, Updated: stamp}
	}
	edge := func(to anchor.ID) *anchor.Anchor {
		return &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: b, Type: "Likes", Source: b, Target: to, Created: stamp, Updated: stamp}
	}
	closed := node(anchor.Access{})                                                   // B may not connect to it
	open := node(anchor.Access{Roots: map[anchor.ID]anchor.Level{b: anchor.Connect}}) // B may
	forged, fair, fairViaA := edge(closed.ID), edge(open.ID), edge(open.ID)

	// B sends its edges before their endpoints are here: held, not refused.
	res, err := s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Root: b, Anchors: []*anchor.Anchor{forged, fair, fairViaA}})
	require.NoError(t, err)
	require.Equal(t, 3, res.Stats.Total().Held)
	require.Zero(t, res.Stats.Total().Refused)

	// The owner's trusted replication brings the closed node: B's edge to
	// it is checked as B, and refused.
	res, err = s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{closed}})
	require.NoError(t, err)
	require.Len(t, res.Stats.Refusals, 1, "B's edge to a node it may not connect to")
	require.Equal(t, forged.ID, res.Stats.Refusals[0].ID)
	require.Contains(t, res.Stats.Refusals[0].Reason, "lacks connect")
	err = s.View(ctx, func(v backend.View) error { _, err := v.Anchor(forged.ID); return err })
	requireAnchorErr(t, err, anchor.ErrNotFound, forged.ID) // the forged edge was not written
	require.Zero(t, EdgeCount(t, s, closed.ID))

	// A merge acting as A brings the open node: B's edges to it are
	// applied as B (they are B's), not refused as A's.
	res, err = s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Root: a, Anchors: []*anchor.Anchor{open}})
	require.NoError(t, err)
	require.Empty(t, res.Stats.Refusals)
	require.Equal(t, 2, res.Stats.ByKind[anchor.KindEdge].Inserted)
	require.Equal(t, 2, EdgeCount(t, s, open.ID))
	require.Equal(t, b, Stored(t, s, fair.ID).Owner)
}

// testHeldEdgesWaitForHub: many edges held for one node (a hub whose
// record arrives after its edges), over several merges, are kept one
// entry each (Verify stays clean meanwhile) and all applied by the merge
// that brings the hub; an edge both of whose endpoints are missing waits
// for one, then the other.
func testHeldEdgesWaitForHub(t *testing.T, h *Harness) {
	s := h.Open()
	owner := anchor.NewID()
	stamp := Meta(t, s).HLC + 10
	mk := func() *anchor.Anchor {
		return &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "N", Created: stamp, Updated: stamp}
	}
	edge := func(from, to anchor.ID) *anchor.Anchor {
		return &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: owner, Type: "E", Source: from, Target: to, Created: stamp + 1, Updated: stamp + 1}
	}
	merge := func(as ...*anchor.Anchor) *delta.MergeStats {
		t.Helper()
		res, err := s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Anchors: as})
		require.NoError(t, err)
		return &res.Stats
	}
	heldNow := func() int {
		t.Helper()
		var n int
		require.NoError(t, s.View(ctx, func(v backend.View) (err error) { n, err = delta.CountHeld(v); return err }))
		return n
	}
	hub, x, y := mk(), mk(), mk()
	const leaves = 200
	var ls, es []*anchor.Anchor
	for range leaves {
		l := mk()
		ls, es = append(ls, l), append(es, edge(hub.ID, l.ID))
	}
	merge(ls...)
	for i := 0; i < leaves; i += 50 {
		require.Equal(t, 50, merge(es[i:i+50]...).Total().Held)
	}
	chained := edge(x.ID, y.ID)
	require.Equal(t, 1, merge(chained).Total().Held)
	require.Equal(t, leaves+1, heldNow())
	RequireClean(t, s) // held edges are no stale index entries

	st := merge(hub)
	require.Equal(t, leaves, st.ByKind[anchor.KindEdge].Inserted)
	require.Equal(t, leaves, EdgeCount(t, s, hub.ID))
	require.Equal(t, 1, heldNow())
	merge(x)
	require.Equal(t, 1, heldNow(), "the chained edge now waits for its other endpoint")
	require.Equal(t, 1, merge(y).ByKind[anchor.KindEdge].Inserted)
	require.Zero(t, heldNow())
	require.True(t, Stored(t, s, chained.ID).Live())
	RequireClean(t, s)
}

// testHeldEdgeRacesItsNode runs RaceHeldEdge on one store (PostgreSQL
// runs it across two stores on one schema too).
func testHeldEdgeRacesItsNode(t *testing.T, h *Harness) {
	s := h.Open()
	RaceHeldEdge(t, s, s)
}

// RaceHeldEdge merges, round after round, a node through nodes and an
// edge to it through edges at once (separate transactions where the
// stores allow them: PostgreSQL, or two stores on one database):
// whichever commits first, the edge ends up applied and nothing stays
// held.
func RaceHeldEdge(t testing.TB, nodes, edges backend.Store) {
	owner := anchor.NewID()
	stamp := Meta(t, nodes).HLC + 10
	root := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "N", Created: stamp, Updated: stamp}
	_, err := nodes.Apply(ctx, &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{root}})
	require.NoError(t, err)
	const rounds = 40
	var ids []anchor.ID
	for range rounds {
		n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "N", Created: stamp, Updated: stamp}
		e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: owner, Type: "E", Source: root.ID, Target: n.ID, Created: stamp + 1, Updated: stamp + 1}
		ids = append(ids, e.ID)
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, w := range []struct {
			s backend.Store
			a *anchor.Anchor
		}{{nodes, n}, {edges, e}} {
			wg.Go(func() {
				_, errs[i] = w.s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{w.a}})
			})
		}
		wg.Wait()
		require.NoError(t, errors.Join(errs...))
	}
	var held int
	require.NoError(t, nodes.View(ctx, func(v backend.View) (err error) { held, err = delta.CountHeld(v); return err }))
	require.Zero(t, held, "an edge was left held next to its node")
	for _, id := range ids {
		require.True(t, Stored(t, nodes, id).Live())
	}
	require.Equal(t, rounds, EdgeCount(t, nodes, root.ID))
	RequireClean(t, nodes)
}
