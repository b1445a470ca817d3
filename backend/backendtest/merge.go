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

// testMergeMetaAndCursor: what a backend owes replication. A Merge stores
// its small values (import cursors) in the same transaction as the
// anchors, View.MetaValue reads them back (nil for a missing key), and
// applying the same Merge again changes nothing: no write, no log entry.
func testMergeMetaAndCursor(t *testing.T, h *Harness) {
	s := h.Open()
	var missing []byte
	require.NoError(t, s.View(ctx, func(v backend.View) (err error) { missing, err = v.MetaValue("import/none"); return err }))
	require.Nil(t, missing)

	from, owner := anchor.NewID(), anchor.NewID()
	stamp := Meta(t, s).HLC + 10
	v, err := anchor.EncodeValue("remote")
	require.NoError(t, err)
	n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "Remote",
		Created: stamp, Updated: stamp, Fields: map[string]anchor.Field{"v": {Value: v, Stamp: stamp}}}
	m := &delta.Merge{From: from, Anchors: []*anchor.Anchor{n}, Meta: map[string][]byte{"import/x": []byte("cursor-1")}}
	res, err := s.Apply(ctx, m)
	require.NoError(t, err)
	require.Equal(t, 1, res.Stats.Total().Inserted)
	var got []byte
	require.NoError(t, s.View(ctx, func(v backend.View) (err error) { got, err = v.MetaValue("import/x"); return err }))
	require.Equal(t, []byte("cursor-1"), got)
	stored := Stored(t, s, n.ID)
	require.Equal(t, from, stored.Fields["v"].Origin, "a merged field keeps the replica it came from")
	require.GreaterOrEqual(t, Meta(t, s).HLC, stamp, "the store's clock observed the merged stamps")

	seq := Meta(t, s).Seq
	res, err = s.Apply(ctx, &delta.Merge{From: from, Anchors: []*anchor.Anchor{n}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Stats.Total().Skipped)
	require.Equal(t, seq, Meta(t, s).Seq, "re-applying the same state logs nothing")
	require.Equal(t, stored, Stored(t, s, n.ID))
}

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

// testMergeRefusesHeaderChanges: the header of a stored anchor (kind,
// owner, type, an edge's endpoints) never changes, and a remote record
// that is malformed or names an endpoint that is not a node is refused:
// each is counted and reported, nothing of it is written, and the rest of
// the merge lands.
func testMergeRefusesHeaderChanges(t *testing.T, h *Harness) {
	s := h.Open()
	owner := NewRootNode(t, s, anchor.Access{})
	stamp := Meta(t, s).HLC + 10
	mk := func(kind anchor.Kind, typ string) *anchor.Anchor {
		return &anchor.Anchor{ID: anchor.NewID(), Kind: kind, Owner: owner, Type: typ, Created: stamp, Updated: stamp}
	}
	n1, n2, obj := mk(anchor.KindNode, "N"), mk(anchor.KindNode, "N"), mk(anchor.KindObject, "O")
	e := mk(anchor.KindEdge, "E")
	e.Source, e.Target = n1.ID, n2.ID
	res, err := s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{n1, n2, obj, e}})
	require.NoError(t, err)
	require.Equal(t, 4, res.Stats.Total().Inserted)

	later := func(a *anchor.Anchor, edit func(*anchor.Anchor)) *anchor.Anchor {
		c := a.Clone()
		c.Updated = stamp + 5
		edit(c)
		return c
	}
	toObject := mk(anchor.KindEdge, "E")
	toObject.Source, toObject.Target = n1.ID, obj.ID
	cases := map[string]*anchor.Anchor{
		"owner":          later(n1, func(a *anchor.Anchor) { a.Owner = anchor.NewID() }),
		"type":           later(n2, func(a *anchor.Anchor) { a.Type = "Other" }),
		"kind":           later(obj, func(a *anchor.Anchor) { a.Kind = anchor.KindWalker }),
		"endpoints":      later(e, func(a *anchor.Anchor) { a.Target = n1.ID }),
		"unknown kind":   later(mk(anchor.KindNode, "N"), func(a *anchor.Anchor) { a.Kind = 200 }),
		"bad type name":  later(mk(anchor.KindNode, "N"), func(a *anchor.Anchor) { a.Type = "bad\x00" }),
		"bad access":     later(mk(anchor.KindNode, "N"), func(a *anchor.Anchor) { a.Access.All = 99 }),
		"edge to object": toObject,
		"edge restored":  later(e, func(a *anchor.Anchor) { a.Restored = a.Updated }),
		"edge lives":     later(e, func(a *anchor.Anchor) { a.SourceEpoch = stamp }),
		"restored later": later(n2, func(a *anchor.Anchor) { a.Restored = a.Updated + 1 }),
		"zero ID":        later(mk(anchor.KindNode, "N"), func(a *anchor.Anchor) { a.ID = anchor.ID{} }),
		"edge to zero":   later(mk(anchor.KindEdge, "E"), func(a *anchor.Anchor) { a.Source, a.Target = n1.ID, anchor.ID{} }),
		"edge to itself": later(mk(anchor.KindEdge, "E"), func(a *anchor.Anchor) { a.Source, a.Target = a.ID, n1.ID }),
		"field by reference": later(mk(anchor.KindNode, "N"), func(a *anchor.Anchor) {
			a.Fields = map[string]anchor.Field{"f": {Ref: &anchor.Ref{Size: 10}, Stamp: stamp}}
		}),
	}
	for name, r := range cases {
		before := Meta(t, s).Seq
		fresh := mk(anchor.KindNode, "Fine")
		res, err := s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{r, fresh}})
		require.NoError(t, err, name)
		require.Len(t, res.Stats.Refusals, 1, name)
		require.Equal(t, r.ID, res.Stats.Refusals[0].ID, name)
		require.Equal(t, 1, res.Stats.Total().Inserted, "%s: the rest of the merge lands", name)
		require.Equal(t, before+1, Meta(t, s).Seq, "%s: only the fine record was logged", name)
	}
	for _, a := range []*anchor.Anchor{n1, n2, obj, e} {
		got := Stored(t, s, a.ID)
		require.Equal(t, a.Kind, got.Kind)
		require.Equal(t, a.Owner, got.Owner)
		require.Equal(t, a.Type, got.Type)
		require.Equal(t, a.Source, got.Source)
		require.Equal(t, a.Target, got.Target)
		require.Equal(t, stamp, got.Updated, "no refused record changed %s", a.ID)
	}
	err = s.View(ctx, func(v backend.View) error { _, err := v.Anchor(toObject.ID); return err })
	requireAnchorErr(t, err, anchor.ErrNotFound, toObject.ID)
	require.Equal(t, 1, EdgeCount(t, s, n2.ID))
	RequireClean(t, s)
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

// testMergeTieTakesGreaterOrigin: a merged field of the same stamp and
// value as the stored one but a greater origin wins, so that replicas
// that wrote the same value at the same stamp end with identical records
// (a merge used to skip it and keep each replica's own origin).
func testMergeTieTakesGreaterOrigin(t *testing.T, h *Harness) {
	s := h.Open()
	stamp := Meta(t, s).HLC + 10
	lo, hi := anchor.NewID(), anchor.NewID()
	if lo.String() > hi.String() {
		lo, hi = hi, lo
	}
	v, err := anchor.EncodeValue(0)
	require.NoError(t, err)
	rec := func(origin anchor.ID) *anchor.Anchor {
		return &anchor.Anchor{ID: anchor.ID{1}, Kind: anchor.KindNode, Owner: anchor.ID{2}, Type: "N", Created: stamp, Updated: stamp,
			Fields: map[string]anchor.Field{"f": {Value: v, Stamp: stamp, Origin: origin}}}
	}
	origin := func() anchor.ID { return Stored(t, s, anchor.ID{1}).Fields["f"].Origin }
	for i, from := range []anchor.ID{lo, hi, lo} {
		_, err := s.Apply(ctx, &delta.Merge{From: from, Anchors: []*anchor.Anchor{rec(from)}})
		require.NoError(t, err)
		if i == 0 {
			require.Equal(t, lo, origin())
			continue
		}
		require.Equal(t, hi, origin(), "merge %d: the greater origin holds the tie", i)
	}
}
