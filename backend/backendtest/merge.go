package backendtest

import (
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
