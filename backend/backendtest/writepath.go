package backendtest

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// The write-path defects: each case pins one hole an earlier main left,
// where a backend or the walker memory forgot a rule of the write path.

// testGrantsMerge pins defect 1: access grants were written as one whole
// document, so a stale walker's grant of C undid another walker's
// revocation of B (B could write again), and of two concurrent grants only
// the second survived.
func testGrantsMerge(t *testing.T, h *Harness) {
	s := h.Open()
	a := NewRootNode(t, s, anchor.Access{})
	b, c, d := anchor.NewID(), anchor.NewID(), anchor.NewID()
	setup := tiered.New(s, a, nil)
	n, err := setup.Create(anchor.KindNode, "Doc", nil)
	require.NoError(t, err)
	require.NoError(t, setup.Grant(ctx, n, b, anchor.Write))
	require.NoError(t, setup.Commit(ctx))

	w1, w2 := tiered.New(s, a, nil), tiered.New(s, a, nil)
	_, err = w1.Get(ctx, n)
	require.NoError(t, err)
	_, err = w2.Get(ctx, n)
	require.NoError(t, err)
	require.NoError(t, w1.Grant(ctx, n, b, anchor.NoAccess)) // revoke B
	require.NoError(t, w1.Commit(ctx))
	require.NoError(t, w2.Grant(ctx, n, c, anchor.Read)) // stale copy: B still has Write
	require.NoError(t, w2.Commit(ctx))
	acc := Stored(t, s, n).Access
	require.Equal(t, anchor.NoAccess, acc.Level(b), "the revocation survives a stale walker's grant")
	require.Equal(t, anchor.Read, acc.Level(c))

	// Concurrent grants to different roots both survive.
	w3, w4 := tiered.New(s, a, nil), tiered.New(s, a, nil)
	require.NoError(t, w3.Grant(ctx, n, d, anchor.Connect))
	require.NoError(t, w4.SetAccess(ctx, n, anchor.Access{All: anchor.Read}))
	require.NoError(t, w3.Commit(ctx))
	require.NoError(t, w4.Commit(ctx))
	acc = Stored(t, s, n).Access
	require.Equal(t, anchor.Connect, acc.Level(d))
	require.Equal(t, anchor.Read, acc.All)
	require.Equal(t, anchor.NoAccess, acc.Level(b))

	// Optimistic mode notices an access entry changed since the snapshot.
	w5 := tiered.New(s, a, &tiered.Options{Optimistic: true})
	_, err = w5.Get(ctx, n)
	require.NoError(t, err)
	w6 := tiered.New(s, a, nil)
	require.NoError(t, w6.Grant(ctx, n, c, anchor.Write))
	require.NoError(t, w6.Commit(ctx))
	require.NoError(t, w5.Grant(ctx, n, c, anchor.NoAccess))
	require.ErrorIs(t, w5.Commit(ctx), anchor.ErrConflict)
	require.Equal(t, anchor.Write, Stored(t, s, n).Access.Level(c))
}

// testMergeChecksPrincipal pins defect 2: a replicated change sent by a
// user root skipped every access check, so root B, denied a plain Set on
// A's node, overwrote the field and opened the node to everyone.
func testMergeChecksPrincipal(t *testing.T, h *Harness) {
	s := h.Open()
	a, b := NewRootNode(t, s, anchor.Access{}), NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, a, nil)
	n, err := m.Create(anchor.KindNode, "Profile", map[string]any{"name": "ada"})
	require.NoError(t, err)
	require.NoError(t, m.Grant(ctx, n, b, anchor.Read))
	require.NoError(t, m.Commit(ctx))

	before := Stored(t, s, n)
	forged := before.Clone()
	forged.Access.All = anchor.Write
	top := Meta(t, s).HLC + 1000
	forged.AccessStamps = map[anchor.ID]anchor.Mark{anchor.SystemRoot: {At: top}}
	v, err := anchor.EncodeValue("mallory")
	require.NoError(t, err)
	forged.Fields["name"] = anchor.Field{Value: v, Stamp: top}
	res, err := s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Root: b, Anchors: []*anchor.Anchor{forged}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Stats.Total().Refused, "the forged record is refused")
	require.Equal(t, before, Stored(t, s, n), "nothing of it was written")
}

// testInvalidInputIsolated pins defect 3: an edge type with a NUL byte was
// accepted by Connect, stored by bolt and sqlite, and failed the whole
// group transaction on PostgreSQL, failing every other walker's commit.
// Now it is refused alone, with ErrInvalid, on every backend.
func testInvalidInputIsolated(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	const innocent = 16
	var wg sync.WaitGroup
	errs := make([]error, innocent)
	var bad error
	wg.Go(func() {
		m := tiered.New(s, root, nil)
		n, err := m.Create(anchor.KindNode, "N", nil)
		if err != nil {
			bad = err
			return
		}
		if _, err := m.Connect(ctx, root, n, "bad\x00type", nil); err != nil {
			bad = err
			return
		}
		bad = m.Commit(ctx)
	})
	for i := range innocent {
		wg.Go(func() {
			m := tiered.New(s, root, nil)
			n, err := m.Create(anchor.KindNode, "N", nil)
			if err == nil {
				_, err = m.Connect(ctx, root, n, "Good", nil)
			}
			if err == nil {
				err = m.Commit(ctx)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	require.ErrorIs(t, bad, anchor.ErrInvalid)
	for i, err := range errs {
		require.NoError(t, err, "innocent walker %d", i)
	}
	require.Equal(t, innocent, EdgeCount(t, s, root))
	for _, typ := range []string{"", "tab\there", string([]byte{0xff, 0xfe})} {
		m := tiered.New(s, root, nil)
		_, err := m.Create(anchor.KindNode, typ, nil)
		if err == nil {
			err = m.Commit(ctx)
		}
		require.ErrorIs(t, err, anchor.ErrInvalid, "type %q", typ)
	}
	// The zero ID is the system root's: no anchor may take it.
	zero := &anchor.Anchor{Kind: anchor.KindNode, Owner: root, Type: "N"}
	err := Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{Create: zero}}})
	require.ErrorIs(t, err, anchor.ErrInvalid, "an anchor with the zero ID")
	err = s.View(ctx, func(v backend.View) error { _, err := v.Anchor(anchor.ID{}); return err })
	require.ErrorIs(t, err, anchor.ErrNotFound)
	// A field comes with its value, never as a reference to one kept out
	// of line (the store would hold a reference to nothing).
	byRef := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "N",
		Fields: map[string]anchor.Field{"f": {Ref: &anchor.Ref{Size: 10}}}}
	err = Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: byRef.ID, Create: byRef}}})
	require.ErrorIs(t, err, anchor.ErrInvalid, "a field given as a reference")
}

// testDeniedLeavesNoTrace pins defect 5: a denied batch advanced the
// stored HLC on bolt and PostgreSQL.
func testDeniedLeavesNoTrace(t *testing.T, h *Harness) {
	s := h.Open()
	a, b := NewRootNode(t, s, anchor.Access{}), anchor.NewID()
	before := Meta(t, s)
	for range 3 {
		require.ErrorIs(t, tiered.New(s, b, nil).Set(ctx, a, "x", 1), anchor.ErrAccessDenied)
		err := Apply(ctx, s, &delta.Batch{Root: b, Changes: []delta.Change{{ID: a, Set: map[string][]byte{"x": {1}}}}})
		require.ErrorIs(t, err, anchor.ErrAccessDenied)
	}
	after := Meta(t, s)
	require.Equal(t, before.HLC, after.HLC, "a denied batch leaves the clock alone")
	require.Equal(t, before.Seq, after.Seq)
}

// testReadRechecked pins defect 6: Read was checked once, at load, so a
// walker whose grant was revoked kept listing the node's edges, and a
// listing showed other roots' edges with no check on them.
func testReadRechecked(t *testing.T, h *Harness) {
	s := h.Open()
	a, b, c := NewRootNode(t, s, anchor.Access{}), anchor.NewID(), NewRootNode(t, s, anchor.Access{})
	owner := tiered.New(s, a, nil)
	n, err := owner.Create(anchor.KindNode, "Doc", nil)
	require.NoError(t, err)
	require.NoError(t, owner.Grant(ctx, n, b, anchor.Read))
	require.NoError(t, owner.Grant(ctx, a, c, anchor.Connect)) // c may connect to a's root
	require.NoError(t, owner.Commit(ctx))

	reader := tiered.New(s, b, nil)
	_, err = reader.Edges(ctx, n)
	require.NoError(t, err)
	require.NoError(t, owner.Grant(ctx, n, b, anchor.NoAccess))
	_, err = owner.Connect(ctx, a, n, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, owner.Commit(ctx))
	_, err = reader.Edges(ctx, n)
	require.ErrorIs(t, err, anchor.ErrAccessDenied, "a revoked Read takes effect at once")

	// c connects its node to a's root: a's listing leaves out c's edge,
	// which a may not read.
	other := tiered.New(s, c, nil)
	x, err := other.Create(anchor.KindNode, "Secret", nil)
	require.NoError(t, err)
	hidden, err := other.Connect(ctx, x, a, "Knows", nil)
	require.NoError(t, err)
	require.NoError(t, other.Commit(ctx))
	rows, err := tiered.New(s, a, nil).Edges(ctx, a)
	require.NoError(t, err)
	for _, r := range rows {
		require.NotEqual(t, hidden, r.Edge, "an edge a may not read is not listed")
	}
	require.Equal(t, 2, EdgeCount(t, s, a))
}

// testDeleteReadYourWrites pins defect 7: after an uncommitted Delete(N)
// the walker still listed its edge to N; and Delete(N) dropped the
// walker's new edges to N at once, so when the delete was refused and the
// walker forgot N, Commit returned nil without them.
func testDeleteReadYourWrites(t *testing.T, h *Harness) {
	s := h.Open()
	a := NewRootNode(t, s, anchor.Access{})
	b := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, a, nil)
	n, err := m.Create(anchor.KindNode, "N", nil)
	require.NoError(t, err)
	_, err = m.Connect(ctx, a, n, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, m.Grant(ctx, n, b, anchor.Connect))
	require.NoError(t, m.Commit(ctx))
	require.NoError(t, m.Delete(ctx, n))
	rows, err := m.Edges(ctx, a)
	require.NoError(t, err)
	require.Empty(t, rows, "the walker no longer sees its edge to the node it deleted")
	m.Abort()

	w := tiered.New(s, b, nil)
	e, err := w.Connect(ctx, b, n, "Likes", nil)
	require.NoError(t, err)
	require.NoError(t, w.Delete(ctx, n)) // b has Connect, not Write
	require.ErrorIs(t, w.Commit(ctx), anchor.ErrAccessDenied)
	w.Forget(n)
	require.NoError(t, w.Commit(ctx))
	require.True(t, Stored(t, s, e).Live(), "the new edge survived the refused delete")
	require.Equal(t, 1, EdgeCount(t, s, b))
}

// testStaleRemoveSucceeds pins defect 8: when two walkers removed the same
// edge (or deleted the same node), the second one's batch, unrelated new
// edges included, failed with ErrDeleted on every retry.
func testStaleRemoveSucceeds(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	setup := tiered.New(s, root, nil)
	n, err := setup.Create(anchor.KindNode, "N", nil)
	require.NoError(t, err)
	e, err := setup.Connect(ctx, root, n, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, setup.Commit(ctx))

	w1, w2 := tiered.New(s, root, nil), tiered.New(s, root, nil)
	require.NoError(t, w1.Disconnect(ctx, e))
	require.NoError(t, w2.Disconnect(ctx, e))
	require.NoError(t, w1.Commit(ctx))
	other, err := w2.Create(anchor.KindNode, "Other", nil)
	require.NoError(t, err)
	_, err = w2.Connect(ctx, root, other, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, w2.Commit(ctx), "removing what is already gone is what the walker asked for")
	require.Equal(t, 1, EdgeCount(t, s, root))

	w3, w4 := tiered.New(s, root, nil), tiered.New(s, root, nil)
	require.NoError(t, w3.Delete(ctx, other))
	require.NoError(t, w4.Delete(ctx, other))
	require.NoError(t, w3.Commit(ctx))
	require.NoError(t, w4.Commit(ctx))
	require.Zero(t, EdgeCount(t, s, root))
}

// testOnlyOwnerChangesAccess pins defect 9: a Write grantee could hand
// Write to everyone (Access.All = Write). Access belongs to the owner.
func testOnlyOwnerChangesAccess(t *testing.T, h *Harness) {
	s := h.Open()
	a, b := NewRootNode(t, s, anchor.Access{}), anchor.NewID()
	m := tiered.New(s, a, nil)
	n, err := m.Create(anchor.KindNode, "Doc", nil)
	require.NoError(t, err)
	require.NoError(t, m.Grant(ctx, n, b, anchor.Write))
	require.NoError(t, m.Commit(ctx))
	before := Stored(t, s, n)

	w := tiered.New(s, b, nil)
	require.NoError(t, w.SetAccess(ctx, n, anchor.Access{All: anchor.Write}))
	err = w.Commit(ctx)
	require.ErrorIs(t, err, anchor.ErrAccessDenied)
	var ae *anchor.Error
	require.True(t, errors.As(err, &ae))
	require.Equal(t, anchor.Own, ae.Need)
	require.Equal(t, before, Stored(t, s, n))
	w.Abort()
	require.NoError(t, w.Set(ctx, n, "x", 1), "Write still allows fields")
	require.NoError(t, w.Commit(ctx))
}
