package backendtest

import (
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

func edgeIDs(rows []anchor.Adj) []anchor.ID {
	ids := make([]anchor.ID, len(rows))
	for i, r := range rows {
		ids[i] = r.Edge
	}
	return ids
}

// testTypedTraversal: a node's edges filtered by type and direction, in
// creation order, paged with a cursor, and their peers loaded in one read.
func testTypedTraversal(t *testing.T, h *Harness) {
	s := h.Open()
	root, err := tiered.CreateRoot(ctx, s, nil)
	require.NoError(t, err)
	m := tiered.New(s, root, nil)
	var msgs, follows []anchor.ID
	for i := range 7 { // one batch per edge: each its own stamp
		n, _ := m.Create(anchor.KindNode, "Message", map[string]any{"i": i})
		e, err := m.Connect(ctx, root, n, "Posted", nil)
		require.NoError(t, err)
		msgs = append(msgs, e)
		f, _ := m.Create(anchor.KindNode, "User", nil)
		e, err = m.Connect(ctx, f, root, "Follows", nil)
		require.NoError(t, err)
		follows = append(follows, e)
		require.NoError(t, m.Commit(ctx))
	}
	w := tiered.New(s, root, nil)
	var got []anchor.ID
	for r, err := range w.EdgesOf(ctx, root, delta.EdgeQuery{Dir: anchor.Out, Type: "Posted"}) {
		require.NoError(t, err)
		require.Equal(t, "Posted", r.Type)
		got = append(got, r.Edge)
	}
	require.Equal(t, msgs, got, "out Posted edges, in creation order")
	rows, _, err := w.EdgePage(ctx, root, delta.EdgeQuery{Dir: anchor.In}, 100)
	require.NoError(t, err)
	require.Equal(t, follows, edgeIDs(rows), "in edges only")
	rows, _, err = w.EdgePage(ctx, root, delta.EdgeQuery{Dir: anchor.Out, Type: "Follows"}, 100)
	require.NoError(t, err)
	require.Empty(t, rows, "no out Follows edges")

	// Pages of 3 cover every edge once, in order.
	var paged []anchor.ID
	q := delta.EdgeQuery{}
	for {
		rows, next, err := w.EdgePage(ctx, root, q, 3)
		require.NoError(t, err)
		require.LessOrEqual(t, len(rows), 3)
		paged = append(paged, edgeIDs(rows)...)
		if next == nil {
			break
		}
		q.After = next
	}
	all, err := w.Edges(ctx, root)
	require.NoError(t, err)
	require.Equal(t, edgeIDs(all), paged)
	require.Len(t, paged, 14)

	peers, next, skipped, err := w.Peers(ctx, root, delta.EdgeQuery{Dir: anchor.Out, Type: "Posted"}, 5)
	require.NoError(t, err)
	require.NotNil(t, next)
	require.Zero(t, skipped)
	require.Len(t, peers, 5)
	for i, p := range peers {
		var n int
		require.NoError(t, p.Field("i", &n))
		require.Equal(t, i, n)
	}

	// An unwritten edge comes last; one this walker removed is gone.
	n, _ := w.Create(anchor.KindNode, "Message", nil)
	pending, err := w.Connect(ctx, root, n, "Posted", nil)
	require.NoError(t, err)
	require.NoError(t, w.Disconnect(ctx, msgs[0]))
	got = got[:0]
	for r, err := range w.EdgesOf(ctx, root, delta.EdgeQuery{Dir: anchor.Out, Type: "Posted"}) {
		require.NoError(t, err)
		got = append(got, r.Edge)
	}
	require.Equal(t, append(append([]anchor.ID{}, msgs[1:]...), pending), got)
	require.NoError(t, w.Commit(ctx))
	RequireClean(t, s)
}

// testInsertionOrder: a runtime that brings its own random edge IDs (Jac
// uses UUIDv4) gets a node's edges back in the order it created them, the
// same after reopening the store.
func testInsertionOrder(t *testing.T, h *Harness) {
	s := h.Open()
	root, err := tiered.CreateRoot(ctx, s, nil)
	require.NoError(t, err)
	var want []anchor.ID
	for i := range 12 {
		var node, edge anchor.ID
		rand.Read(node[:])
		rand.Read(edge[:])
		if i%2 == 0 {
			edge[0] = 0xff - byte(i) // later edges get smaller IDs
		}
		b := &delta.Batch{Root: root, Changes: []delta.Change{
			{ID: node, Create: &anchor.Anchor{ID: node, Kind: anchor.KindNode, Owner: root, Type: "Todo"}},
			{ID: edge, Create: &anchor.Anchor{ID: edge, Kind: anchor.KindEdge, Owner: root, Type: "Has", Source: root, Target: node}},
		}}
		_, err := s.Apply(ctx, b)
		require.NoError(t, err)
		want = append(want, edge)
	}
	list := func(s backend.Store) []anchor.ID {
		rows, err := tiered.New(s, root, nil).Edges(ctx, root)
		require.NoError(t, err)
		return edgeIDs(rows)
	}
	require.Equal(t, want, list(s))
	s = h.Reopen(s)
	require.Equal(t, want, list(s), "the same order after reopening")
}

// testLookups: anchors by archetype (paged), by a declared field index,
// and an index declared over existing data; a unique index the data
// already breaks is refused and nothing changes.
func testLookups(t *testing.T, h *Harness) {
	s := h.Open()
	root, err := tiered.CreateRoot(ctx, s, nil)
	require.NoError(t, err)
	m := tiered.New(s, root, nil)
	var todos []anchor.ID
	for i := range 5 {
		id, _ := m.Create(anchor.KindNode, "Todo", map[string]any{"done": i%2 == 0, "title": "t", "rank": i})
		todos = append(todos, id)
	}
	require.NoError(t, m.Commit(ctx))

	var ids []anchor.ID
	var after []byte
	for {
		page, next, err := m.OfType(ctx, "Todo", after, 2)
		require.NoError(t, err)
		ids = append(ids, page...)
		if next == nil {
			break
		}
		after = next
	}
	require.ElementsMatch(t, todos, ids)
	roots, _, err := m.OfType(ctx, tiered.RootType, nil, 10)
	require.NoError(t, err)
	require.Equal(t, []anchor.ID{root}, roots)

	// A user's roots: roots carry the user's name, indexed.
	Declare(t, s, delta.Indexes{Fields: []delta.FieldIndex{{Type: tiered.RootType, Field: "user"}}})
	var adas []anchor.ID
	for _, user := range []string{"ada", "bob", "ada"} {
		r, err := tiered.CreateRoot(ctx, s, map[string]any{"user": user})
		require.NoError(t, err)
		if user == "ada" {
			adas = append(adas, r)
		}
	}
	mine, err := tiered.New(s, anchor.SystemRoot, nil).Lookup(ctx, tiered.RootType, "user", "ada")
	require.NoError(t, err)
	require.Len(t, mine, 2)
	require.ElementsMatch(t, adas, []anchor.ID{mine[0].ID, mine[1].ID})

	_, err = m.Lookup(ctx, "Todo", "done", true)
	require.ErrorIs(t, err, anchor.ErrNoIndex)
	Declare(t, s, delta.Indexes{Fields: []delta.FieldIndex{{Type: "Todo", Field: "done"}}})
	done, err := m.Lookup(ctx, "Todo", "done", true)
	require.NoError(t, err)
	require.Len(t, done, 3, "built over the existing todos")

	Declare(t, s, delta.Indexes{Fields: []delta.FieldIndex{{Type: "Todo", Field: "rank", Unique: true}}})
	for _, v := range []any{3, int64(3), uint8(3), 3.0} {
		found, err := m.Lookup(ctx, "Todo", "rank", v)
		require.NoError(t, err)
		require.Len(t, found, 1, "rank %T 3", v)
		require.Equal(t, todos[3], found[0].ID)
	}

	_, err = s.Apply(ctx, &delta.Declare{Indexes: delta.Indexes{Fields: []delta.FieldIndex{{Type: "Todo", Field: "title", Unique: true}}}})
	require.ErrorIs(t, err, anchor.ErrUnique, "five todos share a title")
	_, err = m.Lookup(ctx, "Todo", "title", "t")
	require.ErrorIs(t, err, anchor.ErrNoIndex, "the refused declaration left nothing")

	require.NoError(t, m.Set(ctx, todos[1], "done", true))
	require.NoError(t, m.Delete(ctx, todos[0]))
	require.NoError(t, m.Commit(ctx))
	done, err = tiered.New(s, root, nil).Lookup(ctx, "Todo", "done", true)
	require.NoError(t, err)
	require.Len(t, done, 3, "one more done, one deleted")
	RequireClean(t, s)

	_, err = s.Apply(ctx, &delta.Declare{Indexes: delta.Indexes{Fields: []delta.FieldIndex{{Type: "Todo", Field: "done"}}}, Drop: true})
	require.NoError(t, err)
	_, err = m.Lookup(ctx, "Todo", "done", true)
	require.ErrorIs(t, err, anchor.ErrNoIndex)
	RequireClean(t, s)
}

// testSnapshotReads: a walker lists a node's edges and loads every peer
// while other walkers delete them. With Options.Snapshot no load fails
// with "deleted" (516 of 1,641 list requests did without it).
func testSnapshotReads(t *testing.T, h *Harness) {
	s := h.Open()
	root, err := tiered.CreateRoot(ctx, s, nil)
	require.NoError(t, err)
	m := tiered.New(s, root, nil)
	var todos []anchor.ID
	for range 300 {
		id, _ := m.Create(anchor.KindNode, "Todo", nil)
		_, err := m.Connect(ctx, root, id, "Has", nil)
		require.NoError(t, err)
		todos = append(todos, id)
	}
	require.NoError(t, m.Commit(ctx))

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // deletes the todos, one commit each
		defer wg.Done()
		for _, id := range todos {
			if stop.Load() {
				return
			}
			d := tiered.New(s, root, nil)
			if d.Delete(ctx, id) == nil {
				d.Commit(ctx) //nolint:errcheck // a failed delete only means less deleting
			}
		}
	}()
	deleted, lists := 0, 0
	for lists < 20 {
		w := tiered.New(s, root, &tiered.Options{Snapshot: true})
		for r, err := range w.EdgesOf(ctx, root, delta.EdgeQuery{Type: "Has", Dir: anchor.Out}) {
			require.NoError(t, err)
			if _, err := w.Get(ctx, r.Peer); err != nil {
				require.ErrorIs(t, err, anchor.ErrDeleted)
				deleted++
			}
		}
		w.Close()
		lists++
	}
	stop.Store(true)
	wg.Wait()
	require.Zero(t, deleted, "a listed peer was deleted under a snapshot walker")
	RequireClean(t, s)
}

// testVerifyIndexDamage: the index check can fail: an entry removed
// behind the engine's back is reported, and so is one that fails its
// checksum; Reindex repairs the first.
func testVerifyIndexDamage(t *testing.T, h *Harness) {
	s := h.Open()
	root, err := tiered.CreateRoot(ctx, s, nil)
	require.NoError(t, err)
	d := s.(interface{ Driver() backend.Driver }).Driver()
	tx, err := d.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.DeleteIndex(delta.ArchetypeKey(tiered.RootType, root)))
	stale := delta.ArchetypeKey("Ghost", anchor.NewID())
	require.NoError(t, tx.PutIndex(stale, []byte{0, 0, 0, 0}))
	require.NoError(t, tx.Commit())
	rep, err := backend.Verify(ctx, s)
	require.NoError(t, err)
	kinds := map[string]int{}
	for _, p := range rep.Problems {
		kinds[p.Kind]++
	}
	require.Equal(t, 2, kinds[backend.ProblemSecondaryIndex], "%v", rep.Problems)

	// Reindex restores what an anchor implies; the stale entry goes by hand.
	_, err = s.Apply(ctx, &delta.Reindex{IDs: []anchor.ID{root}})
	require.NoError(t, err)
	tx, err = d.Begin(ctx)
	require.NoError(t, err)
	require.NoError(t, tx.DeleteIndex(stale))
	require.NoError(t, tx.Commit())
	RequireClean(t, s)
}

// testValidateReads: a find-then-write guard without a create-once type.
// Walkers that list a root's items, find none and create one, with read
// validation: of 16 racing walkers one commits, the others conflict,
// retry, and find it (a Jac find-or-create walker left 4-7 duplicates).
// And a walker whose read anchor was written since fails its commit.
func testValidateReads(t *testing.T, h *Harness) {
	s := h.Open()
	root, err := tiered.CreateRoot(ctx, s, nil)
	require.NoError(t, err)
	q := delta.EdgeQuery{Dir: anchor.Out, Type: "Owns"}
	const n = 16
	got := make([]anchor.ID, n)
	errs := make([]error, n)
	together(n, func(i int) {
		m := tiered.New(s, root, &tiered.Options{ValidateReads: true})
		for attempt := 0; attempt < 200; attempt++ {
			rows, _, err := m.EdgePage(ctx, root, q, 10)
			if err != nil {
				errs[i] = err
				return
			}
			if len(rows) > 0 {
				got[i] = rows[0].Peer
				return
			}
			item, _ := m.Create(anchor.KindNode, "Item", nil)
			if _, err := m.Connect(ctx, root, item, "Owns", nil); err != nil {
				errs[i] = err
				return
			}
			err = m.Commit(ctx)
			if err == nil {
				got[i] = item
				return
			}
			if !errors.Is(err, anchor.ErrConflict) {
				errs[i] = err
				return
			}
			m.Abort()
		}
		errs[i] = errors.New("no progress in 200 attempts")
	})
	for i := range n {
		require.NoError(t, errs[i])
		require.Equal(t, got[0], got[i])
	}
	require.Equal(t, 1, countType(t, s, "Item"), "exactly one item")

	// A read anchor written since fails the commit; nothing lands.
	w := tiered.New(s, root, &tiered.Options{ValidateReads: true})
	_, err = w.Get(ctx, got[0])
	require.NoError(t, err)
	other := tiered.New(s, root, nil)
	require.NoError(t, other.Set(ctx, got[0], "touched", true))
	require.NoError(t, other.Commit(ctx))
	note, _ := w.Create(anchor.KindNode, "Note", nil)
	require.ErrorIs(t, w.Commit(ctx), anchor.ErrConflict)
	_, err = tiered.New(s, root, nil).Get(ctx, note)
	require.ErrorIs(t, err, anchor.ErrNotFound)
	RequireClean(t, s)
}
