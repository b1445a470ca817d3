package delta_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vmihailenco/msgpack/v5"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// replicaTx is a memTx with a replica ID, merging other replicas' records.
type replicaTx struct {
	*memTx
	id anchor.ID
}

func newReplica() *replicaTx { return &replicaTx{memTx: newMemTx(), id: anchor.NewID()} }

// from merges src's current records of ids into r, with r's clock moved
// past every stamp it receives (as a store's HLC observes them).
func (r *replicaTx) from(t *testing.T, src *replicaTx, ids ...anchor.ID) delta.MergeStats {
	t.Helper()
	m := &delta.Merge{From: src.id}
	for _, id := range ids {
		a, err := src.Anchor(id)
		if anchor.IsNotFound(err) {
			continue
		}
		require.NoError(t, err)
		m.Anchors = append(m.Anchors, a)
		r.clock = max(r.clock, delta.Latest(a), a.Restored)
	}
	r.clock++
	res, err := delta.Apply(r, delta.Env{Stamp: r.clock, Replica: r.id}, m)
	require.NoError(t, err)
	return res.Stats
}

// TestRestoreWalker: a walker's restore needs Write on the tombstone,
// brings back its fields under its ID, stamps it as restored, and leaves
// the edges its deletion took deleted; edges, missing anchors and live
// anchors are refused or left alone.
func TestRestoreWalker(t *testing.T) {
	tx := newMemTx()
	owner, stranger := anchor.NewID(), anchor.NewID()
	r, n := node(owner, nil), node(owner, map[string]any{"v": 1})
	e := edge(owner, r.ID, n.ID)
	require.NoError(t, tx.apply(&delta.Batch{Root: owner, Changes: []delta.Change{create(r), create(n), create(e)}}))
	require.NoError(t, tx.apply(&delta.Batch{Root: owner, Changes: []delta.Change{{ID: n.ID, Delete: true}}}))
	deleted := tx.get(n.ID).Deleted

	restore := func(root, id anchor.ID) error {
		return tx.apply(&delta.Batch{Root: root, Changes: []delta.Change{{ID: id, Restore: true}}})
	}
	require.ErrorIs(t, restore(stranger, n.ID), anchor.ErrAccessDenied, "Write on the tombstone is needed")
	require.False(t, tx.get(n.ID).Live())
	require.ErrorIs(t, restore(owner, e.ID), anchor.ErrIntegrity, "an edge is re-created, not restored")
	require.ErrorIs(t, restore(owner, anchor.NewID()), anchor.ErrNotFound)

	require.NoError(t, restore(owner, n.ID))
	got := tx.get(n.ID)
	require.True(t, got.Live())
	require.Equal(t, tx.clock, got.Restored)
	require.Greater(t, got.Restored, deleted)
	var v int
	require.NoError(t, got.Field("v", &v))
	require.Equal(t, 1, v)
	require.False(t, tx.get(e.ID).Live(), "the cascade's edge stays deleted")

	writes := tx.writes
	require.NoError(t, restore(owner, n.ID))
	require.Equal(t, writes, tx.writes, "restoring a live anchor writes nothing")

	again := edge(owner, r.ID, n.ID)
	require.NoError(t, tx.apply(&delta.Batch{Root: owner, Changes: []delta.Change{create(again)}}))
	require.Equal(t, got.Restored, tx.get(again.ID).TargetEpoch, "a new edge belongs to the restored life")

	// One batch may restore a node and connect a new edge to it, in any
	// order: the restore comes first, and the edge joins the new life.
	require.NoError(t, tx.apply(&delta.Batch{Root: owner, Changes: []delta.Change{{ID: n.ID, Delete: true}}}))
	joined := edge(owner, r.ID, n.ID)
	require.NoError(t, tx.apply(&delta.Batch{Root: owner, Changes: []delta.Change{create(joined), {ID: n.ID, Restore: true}}}))
	require.True(t, tx.get(joined.ID).Live())
	require.Equal(t, tx.get(n.ID).Restored, tx.get(joined.ID).TargetEpoch)
	require.Equal(t, tx.clock, tx.get(n.ID).Restored)

	// Granted Write, another root may restore.
	require.NoError(t, tx.apply(&delta.Batch{Root: owner, Changes: []delta.Change{{ID: n.ID, Delete: true}}}))
	w := tx.get(n.ID)
	w.Access.SetEntry(stranger, anchor.Write)
	require.NoError(t, tx.PutAnchor(w))
	require.NoError(t, restore(stranger, n.ID))
	require.True(t, tx.get(n.ID).Live())
}

// TestRestoreMerge: a restore newer than a replica's tombstone makes the
// anchor live there; an older tombstone merged again leaves it live; a
// delete after the restore wins over it; an edge of the older life is
// tombstoned where it arrives after the restore, and an edge of the new
// life arriving before the restore is held until the restore arrives.
// Both stores end with the same liveness and stamps.
func TestRestoreMerge(t *testing.T) {
	a, b, c := newReplica(), newReplica(), newReplica()
	owner := anchor.NewID()
	r, n := node(owner, nil), node(owner, map[string]any{"v": 1})
	e := edge(owner, r.ID, n.ID)
	require.NoError(t, a.apply(&delta.Batch{Changes: []delta.Change{create(r), create(n), create(e)}}))
	b.from(t, a, r.ID, n.ID, e.ID)
	c.from(t, a, r.ID, n.ID, e.ID)

	require.NoError(t, a.apply(&delta.Batch{Changes: []delta.Change{{ID: n.ID, Delete: true}}}))
	tomb := a.get(n.ID)
	b.from(t, a, n.ID, e.ID)
	require.False(t, b.get(n.ID).Live())

	b.clock++
	require.NoError(t, b.apply(&delta.Batch{Changes: []delta.Change{{ID: n.ID, Restore: true}}}))
	fresh := edge(owner, r.ID, n.ID) // made in the restored life, on b
	require.NoError(t, b.apply(&delta.Batch{Changes: []delta.Change{create(fresh)}}))

	// c never saw the delete: its edge belongs to n's first life.
	stale := edge(owner, r.ID, n.ID)
	require.NoError(t, c.apply(&delta.Batch{Changes: []delta.Change{create(stale)}}))

	// The new-life edge reaches a (n still a tombstone there) first: held.
	st := a.from(t, b, fresh.ID)
	require.Equal(t, 1, st.ByKind[anchor.KindEdge].Held)
	require.Equal(t, 1, a.from(t, b, n.ID).ByKind[anchor.KindNode].Updated, "the newer restore wins over the tombstone")
	require.True(t, a.get(n.ID).Live())
	require.True(t, a.get(fresh.ID).Live(), "the held edge came with the restored life")
	require.False(t, a.get(e.ID).Live(), "the cascade's edge stays deleted")

	// The older tombstone merged again: the restore stays.
	m := &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{tomb}}
	res, err := delta.Apply(a, delta.Env{Stamp: a.clock + 1, Replica: a.id}, m)
	require.NoError(t, err)
	require.Equal(t, 1, res.Stats.ByKind[anchor.KindNode].Conflicts)
	require.True(t, a.get(n.ID).Live())

	// c's edge of the first life: tombstoned on a, and on c once the
	// restore reaches it; c's own edge record then changes nothing on a.
	a.from(t, c, stale.ID)
	require.False(t, a.get(stale.ID).Live())
	c.from(t, b, n.ID, fresh.ID)
	require.False(t, c.get(stale.ID).Live(), "the new life supersedes the edge of the old one")
	require.True(t, c.get(n.ID).Live())
	all := []anchor.ID{r.ID, n.ID, e.ID, fresh.ID, stale.ID}
	for range 2 {
		for _, x := range []*replicaTx{a, b, c} {
			for _, y := range []*replicaTx{a, b, c} {
				if x != y {
					y.from(t, x, all...)
				}
			}
		}
	}
	for _, id := range []anchor.ID{n.ID, e.ID, fresh.ID, stale.ID} {
		x, y, z := a.get(id), b.get(id), c.get(id)
		for _, o := range []*anchor.Anchor{y, z} {
			require.Equal(t, x.Live(), o.Live(), "%s", id)
			require.Equal(t, [3]anchor.HLC{x.Deleted, x.Restored, x.Updated}, [3]anchor.HLC{o.Deleted, o.Restored, o.Updated}, "%s", id)
		}
	}

	// A delete after the restore wins over it everywhere.
	a.clock++
	require.NoError(t, a.apply(&delta.Batch{Changes: []delta.Change{{ID: n.ID, Delete: true}}}))
	b.from(t, a, n.ID, fresh.ID)
	require.False(t, b.get(n.ID).Live())
	require.False(t, b.get(fresh.ID).Live())
	b.from(t, c, n.ID) // c's restored life, older than a's delete of it
	require.False(t, b.get(n.ID).Live())
}

// TestRestoreMergeChecked: a remote restore is a write like any other: a
// merge acting as a root needs Write on the stored tombstone to apply it,
// a restore stamped beyond the merge's bound is refused for now, and a
// record restored later than its own Updated stamp is malformed.
func TestRestoreMergeChecked(t *testing.T) {
	a := newReplica()
	owner, stranger := anchor.NewID(), anchor.NewID()
	n := node(owner, map[string]any{"v": 1})
	require.NoError(t, a.apply(&delta.Batch{Changes: []delta.Change{create(n)}}))
	require.NoError(t, a.apply(&delta.Batch{Changes: []delta.Change{{ID: n.ID, Delete: true}}}))
	later := a.get(n.ID)
	later.Deleted, later.Restored, later.Updated = 0, a.clock+5, a.clock+5
	merge := func(m *delta.Merge) delta.MergeStats {
		t.Helper()
		a.clock++
		res, err := delta.Apply(a, delta.Env{Stamp: a.clock, Replica: a.id}, m)
		require.NoError(t, err)
		return res.Stats
	}

	st := merge(&delta.Merge{From: anchor.NewID(), Root: stranger, Anchors: []*anchor.Anchor{later}})
	require.Equal(t, 1, st.ByKind[anchor.KindNode].Refused, "a stranger may not restore")
	require.False(t, a.get(n.ID).Live())

	st = merge(&delta.Merge{From: anchor.NewID(), MaxStamp: later.Restored - 1, Anchors: []*anchor.Anchor{later}})
	require.Len(t, st.Refusals, 1)
	require.True(t, st.Refusals[0].Retry, "a restore beyond the bound waits")
	require.False(t, a.get(n.ID).Live())

	forged := later.Clone()
	forged.Restored, forged.Updated = a.clock+1000, later.Updated
	st = merge(&delta.Merge{From: anchor.NewID(), MaxStamp: a.clock + 100, Anchors: []*anchor.Anchor{forged}})
	require.Equal(t, 1, st.ByKind[anchor.KindNode].Refused, "restored after its own last update")
	require.False(t, st.Refusals[0].Retry, "malformed, not early: refused for good")
	require.False(t, a.get(n.ID).Live())

	st = merge(&delta.Merge{From: anchor.NewID(), Root: owner, Anchors: []*anchor.Anchor{later}})
	require.Equal(t, 1, st.ByKind[anchor.KindNode].Updated)
	require.True(t, a.get(n.ID).Live())
}

// TestRestoreTie: two replicas restore the same tombstone with equal
// stamps (their clocks agree): one life, merged by the rules of a life, so
// a delete in it made on either side wins on both, in either merge order,
// with the same stamps.
func TestRestoreTie(t *testing.T) {
	for _, bFirst := range []bool{true, false} {
		a, b, c := newReplica(), newReplica(), newReplica()
		owner := anchor.NewID()
		n := node(owner, map[string]any{"v": 1})
		require.NoError(t, a.apply(&delta.Batch{Changes: []delta.Change{create(n)}}))
		require.NoError(t, a.apply(&delta.Batch{Changes: []delta.Change{{ID: n.ID, Delete: true}}}))
		b.from(t, a, n.ID)
		c.from(t, a, n.ID)
		b.clock, c.clock = 20, 20
		require.NoError(t, b.apply(&delta.Batch{Changes: []delta.Change{{ID: n.ID, Restore: true}}}))
		require.NoError(t, c.apply(&delta.Batch{Changes: []delta.Change{{ID: n.ID, Restore: true}}}))
		require.Equal(t, b.get(n.ID).Restored, c.get(n.ID).Restored, "the test needs a tie")
		require.NoError(t, c.apply(&delta.Batch{Changes: []delta.Change{{ID: n.ID, Delete: true}}}))
		if bFirst {
			a.from(t, b, n.ID)
			a.from(t, c, n.ID)
		} else {
			a.from(t, c, n.ID)
			a.from(t, b, n.ID)
		}
		b.from(t, c, n.ID)
		c.from(t, b, n.ID)
		b.from(t, a, n.ID)
		c.from(t, a, n.ID)
		want := c.get(n.ID)
		require.False(t, want.Live(), "the delete in the tied life wins")
		for _, r := range []*replicaTx{a, b} {
			got := r.get(n.ID)
			require.Equal(t, [3]anchor.HLC{want.Deleted, want.Restored, want.Updated}, [3]anchor.HLC{got.Deleted, got.Restored, got.Updated})
		}
	}
}

// TestHeldEdgeOfOlderBuild: a held edge written before held edges kept the
// root that sent them (no "o" in its record) is still applied, as the
// root of the merge that brings its endpoint, as that build did.
func TestHeldEdgeOfOlderBuild(t *testing.T) {
	r := newReplica()
	owner := anchor.NewID()
	src, dst := node(owner, nil), node(owner, nil)
	for _, n := range []*anchor.Anchor{src, dst} {
		n.Created, n.Updated = 5, 5
	}
	e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: owner, Type: "E", Source: src.ID, Target: dst.ID, Created: 6, Updated: 6}
	rec, err := anchor.Marshal(e)
	require.NoError(t, err)
	old, err := msgpack.Marshal([]struct {
		ID  anchor.ID `msgpack:"i"`
		Rec []byte    `msgpack:"r"`
	}{{e.ID, rec}})
	require.NoError(t, err)
	require.NoError(t, r.PutMeta(delta.HeldKey, old))
	r.clock = 10
	res, err := delta.Apply(r, delta.Env{Stamp: r.clock, Replica: r.id}, &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{src, dst}})
	require.NoError(t, err)
	require.Empty(t, res.Stats.Refusals)
	require.Equal(t, 1, res.Stats.ByKind[anchor.KindEdge].Inserted)
	require.True(t, r.get(e.ID).Live())
	require.Empty(t, r.kv[delta.HeldKey], "nothing is held any more")
}

// TestTiedWritesConverge pins a divergence the ring soak found (seed 60 of
// ANCHORAGE_SOAK=30): two replicas that wrote the same value to a field at
// the same stamp each kept their own origin, because a merge skipped a
// remote field of equal stamp and value even when its origin won, and
// Covers let the sender leave it out. Now the greater origin wins there
// too, and the records are the same on both replicas.
func TestTiedWritesConverge(t *testing.T) {
	a, b := newReplica(), newReplica()
	owner := anchor.NewID()
	n := node(owner, nil)
	require.NoError(t, a.apply(&delta.Batch{Changes: []delta.Change{create(n)}}))
	b.from(t, a, n.ID)
	v, err := anchor.EncodeValue(0)
	require.NoError(t, err)
	a.clock, b.clock = 100, 100
	for _, r := range []*replicaTx{a, b} {
		require.NoError(t, r.apply(&delta.Batch{Changes: []delta.Change{{ID: n.ID, Set: map[string][]byte{"f": v}}}}))
		require.Equal(t, anchor.HLC(101), r.get(n.ID).Fields["f"].Stamp)
	}
	b.from(t, a, n.ID)
	a.from(t, b, n.ID)
	origin := func(r *replicaTx) anchor.ID {
		if o := r.get(n.ID).Fields["f"].Origin; !o.IsZero() {
			return o
		}
		return r.id
	}
	want := max(a.id.String(), b.id.String())
	require.Equal(t, want, origin(a).String(), "on a")
	require.Equal(t, want, origin(b).String(), "on b")
}
