package delta_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func node(owner anchor.ID, fields map[string]any) *anchor.Anchor {
	a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "N"}
	for k, v := range fields {
		if err := a.SetField(k, v); err != nil {
			panic(err)
		}
	}
	return a
}

func edge(owner, src, dst anchor.ID) *anchor.Anchor {
	return &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: owner, Type: "E", Source: src, Target: dst}
}

func create(a *anchor.Anchor) delta.Change { return delta.Change{ID: a.ID, Create: a} }

func TestDiff(t *testing.T) {
	snap := node(anchor.NewID(), map[string]any{"a": 1, "b": "x"})
	snap.Fields["a"] = anchor.Field{Value: snap.Fields["a"].Value, Stamp: 7}

	_, ok := delta.Diff(snap, snap.Clone(), nil)
	require.False(t, ok, "unchanged copy diffs to nothing")

	cur := snap.Clone()
	require.NoError(t, cur.SetField("a", 2))
	require.NoError(t, cur.SetField("c", true))
	c, ok := delta.Diff(snap, cur, nil)
	require.True(t, ok)
	require.Len(t, c.Set, 2, "only the fields that changed: a and c, not b")
	require.Equal(t, anchor.HLC(7), c.Base["a"])
	require.Equal(t, anchor.HLC(0), c.Base["c"])
	require.Nil(t, c.Grants)

	cur = snap.Clone()
	cur.Access.All = anchor.Read
	c, ok = delta.Diff(snap, cur, nil)
	require.True(t, ok)
	require.Equal(t, map[anchor.ID]anchor.Level{anchor.SystemRoot: anchor.Read}, c.Grants, "only the entry that changed")
	require.Empty(t, c.Set)

	c, ok = delta.Diff(nil, cur, nil)
	require.True(t, ok)
	require.NotNil(t, c.Create)

	cur.Deleted = 1
	c, ok = delta.Diff(snap, cur, nil)
	require.True(t, ok)
	require.True(t, c.Delete)
	_, ok = delta.Diff(nil, cur, nil)
	require.False(t, ok, "created then deleted before storing: nothing to write")
}

func TestApplyPhasesAnyOrder(t *testing.T) {
	tx := newMemTx()
	root := anchor.NewID()
	a, b := node(root, nil), node(root, nil)
	e := edge(root, a.ID, b.ID)
	// Edge first, endpoints after: Apply orders creates before edges.
	batch := &delta.Batch{Root: root, Changes: []delta.Change{create(e), create(b), create(a)}}
	require.NoError(t, tx.apply(batch))
	require.NotZero(t, tx.last.Stamp)
	require.Len(t, tx.adj(), 2)
	require.Equal(t, tx.last.Stamp, tx.get(e.ID).Created)
	require.Len(t, tx.log, 3)
}

func TestApplyAtomicOnCheckFailure(t *testing.T) {
	tx := newMemTx()
	root := anchor.NewID()
	n := node(root, map[string]any{"v": 1})
	require.NoError(t, tx.apply(&delta.Batch{Root: root, Changes: []delta.Change{create(n)}}))
	writes := tx.writes
	other := anchor.NewID()
	bad := &delta.Batch{Root: other, Changes: []delta.Change{
		create(node(other, nil)),
		{ID: n.ID, Set: map[string][]byte{"v": {0x02}}}, // other has no Write on n
	}}
	err := tx.apply(bad)
	require.ErrorIs(t, err, anchor.ErrAccessDenied)
	require.Equal(t, writes, tx.writes, "a batch that fails a check touches nothing")
}

func TestApplyWriteErrorIsTyped(t *testing.T) {
	tx := newMemTx()
	tx.failPut = errDisk
	root := anchor.NewID()
	err := tx.apply(&delta.Batch{Root: root, Changes: []delta.Change{create(node(root, nil))}})
	var we *delta.WriteError
	require.ErrorAs(t, err, &we)
	require.ErrorIs(t, err, errDisk)
}

func TestApplyCascadeAndNoRestamp(t *testing.T) {
	tx := newMemTx()
	root := anchor.NewID()
	hub, p1, p2 := node(root, map[string]any{"v": 1}), node(root, nil), node(root, nil)
	e1, e2 := edge(root, hub.ID, p1.ID), edge(root, p2.ID, hub.ID)
	require.NoError(t, tx.apply(&delta.Batch{Root: root, Changes: []delta.Change{create(hub), create(p1), create(p2), create(e1), create(e2)}}))
	seq := tx.seq

	// Setting a field to the value it already has writes nothing.
	same := &delta.Batch{Root: root, Changes: []delta.Change{{ID: hub.ID, Set: map[string][]byte{"v": tx.get(hub.ID).Fields["v"].Value}}}}
	require.NoError(t, tx.apply(same))
	require.Equal(t, seq, tx.seq)

	require.NoError(t, tx.apply(&delta.Batch{Root: root, Changes: []delta.Change{{ID: hub.ID, Delete: true}}}))
	require.Empty(t, tx.adj(), "deleting the hub drops every adjacency row, including the peers'")
	require.False(t, tx.get(e1.ID).Live())
	require.False(t, tx.get(e2.ID).Live())
	require.True(t, tx.get(p1.ID).Live())
}

func TestApplyOwnerCannotBeForged(t *testing.T) {
	tx := newMemTx()
	root, victim := anchor.NewID(), anchor.NewID()
	err := tx.apply(&delta.Batch{Root: root, Changes: []delta.Change{create(node(victim, nil))}})
	require.ErrorIs(t, err, anchor.ErrAccessDenied)
	// The system root may create on anyone's behalf.
	require.NoError(t, tx.apply(&delta.Batch{Changes: []delta.Change{create(node(victim, nil))}}))
}

// TestDiffSameMapValue pins a bug (fixed in 0f39752): anchor.EncodeValue
// did not sort map keys (anchor's TestEncodeValueDeterministic), so setting
// a map-valued field to the value it already held yielded other bytes;
// Diff saw a change and Apply re-stamped and re-logged the field, though
// DESIGN.md says nothing unchanged is re-stamped or re-logged.
func TestDiffSameMapValue(t *testing.T) {
	v := map[string]any{"a": 1, "b": 2, "c": 3, "d": 4}
	snap := node(anchor.NewID(), map[string]any{"prefs": v})
	tx := newMemTx()
	require.NoError(t, tx.apply(&delta.Batch{Changes: []delta.Change{create(snap)}}))
	seq := tx.seq
	for range 20 {
		cur := snap.Clone()
		require.NoError(t, cur.SetField("prefs", v))
		if c, ok := delta.Diff(snap, cur, nil); ok {
			t.Errorf("setting field prefs to the value it holds diffs to a change: %x", c.Set["prefs"])
		}
		b, err := anchor.EncodeValue(v)
		require.NoError(t, err)
		require.NoError(t, tx.apply(&delta.Batch{Changes: []delta.Change{{ID: snap.ID, Set: map[string][]byte{"prefs": b}}}}))
		if tx.seq != seq {
			t.Fatalf("writing the value prefs already holds re-stamped and re-logged it (log sequence %d -> %d)", seq, tx.seq)
		}
	}
}
