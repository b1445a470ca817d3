package backendtest

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// Conformance cases about concurrency, the change log and the store's
// lifecycle.

func testConcurrentEdges(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{All: anchor.Connect})
	const walkers, per = 16, 40
	require.NoError(t, AddEdges(ctx, []backend.Store{s}, root, walkers, per))
	require.Equal(t, walkers*per, EdgeCount(t, s, root))
}

// AddEdges runs walkers goroutines on each store, each with its own
// tiered.Memory under a new root, each loading root and then adding per
// edges from root to new nodes, one Commit per edge. It returns the first
// error any walker met.
func AddEdges(ctx context.Context, stores []backend.Store, root anchor.ID, walkers, per int) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*walkers)
	for _, s := range stores {
		for range walkers {
			wg.Go(func() {
				m := tiered.New(s, anchor.NewID(), nil)
				_, err := m.Get(ctx, root)
				for i := 0; err == nil && i < per; i++ {
					var n anchor.ID
					n, err = m.Create(anchor.KindNode, "Item", map[string]any{"i": i})
					if err == nil {
						_, err = m.Connect(ctx, root, n, "Has", nil)
					}
					if err == nil {
						err = m.Commit(ctx)
					}
				}
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func testConcurrentOneFails(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	ids := make([]anchor.ID, n)
	for i := range n {
		wg.Go(func() {
			a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "N"}
			ids[i] = a.ID
			b := &delta.Batch{Root: root, Changes: []delta.Change{{ID: a.ID, Create: a}}}
			if i%4 == 0 { // every fourth batch also touches a missing anchor
				b.Changes = append(b.Changes, delta.Change{ID: anchor.NewID(), Delete: true})
			}
			errs[i] = Apply(ctx, s, b)
		})
	}
	wg.Wait()
	for i := range n {
		_, err := tiered.New(s, root, nil).Get(ctx, ids[i])
		if i%4 == 0 {
			require.ErrorIs(t, errs[i], anchor.ErrNotFound)
			require.ErrorIs(t, err, anchor.ErrNotFound, "failed batch %d left a write", i)
		} else {
			require.NoError(t, errs[i])
			require.NoError(t, err)
		}
	}
}

func testChangeLog(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "N", map[string]any{"v": 1})
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	seq0 := Meta(t, s).Seq
	for i := 2; i <= 4; i++ {
		require.NoError(t, m.Set(ctx, n, "v", i))
		require.NoError(t, m.Commit(ctx))
	}
	// A write that changes nothing is neither stamped nor logged.
	before := Stored(t, s, n)
	require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n, Set: map[string][]byte{"v": before.Fields["v"].Value}}}}))
	require.Equal(t, before.Updated, Stored(t, s, n).Updated)
	meta := Meta(t, s)
	require.Equal(t, seq0+3, meta.Seq)
	var entries []anchor.ID
	var seqs []uint64
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		return v.Changes(0, func(seq uint64, id anchor.ID) error {
			entries = append(entries, id)
			seqs = append(seqs, seq)
			return nil
		})
	}))
	require.Equal(t, []anchor.ID{root, n}, entries, "one entry per anchor, at its latest write")
	require.Equal(t, meta.Seq, seqs[1])
	require.GreaterOrEqual(t, meta.HLC, Stored(t, s, n).Updated)
	var tail []uint64
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		return v.Changes(seqs[0], func(seq uint64, _ anchor.ID) error { tail = append(tail, seq); return nil })
	}))
	require.Equal(t, seqs[1:], tail)
}

func testEdgesListing(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	a, _ := m.Create(anchor.KindNode, "A", nil)
	b, _ := m.Create(anchor.KindNode, "B", nil)
	ea, err := m.Connect(ctx, root, a, "E", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	eb, err := m.Connect(ctx, root, b, "E", nil)
	require.NoError(t, err)
	require.NoError(t, m.Disconnect(ctx, ea))
	rows, err := m.Edges(ctx, root)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, eb, rows[0].Edge)
	require.Equal(t, 1, EdgeCount(t, s, root), "uncommitted changes are not stored")
	require.NoError(t, m.Commit(ctx))
	require.Equal(t, 1, EdgeCount(t, s, root))
}

func testClosed(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	err := Apply(ctx, s, &delta.Batch{Changes: []delta.Change{{ID: root, Set: map[string][]byte{"x": {1}}}}})
	require.ErrorIs(t, err, anchor.ErrClosed)
	err = s.View(ctx, func(backend.View) error { return nil })
	require.ErrorIs(t, err, anchor.ErrClosed)
	_, err = tiered.New(s, root, nil).Get(ctx, root)
	require.ErrorIs(t, err, anchor.ErrClosed)
}

func testReopen(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	var ids []anchor.ID
	for i := range 20 {
		n, err := m.Create(anchor.KindNode, "N", map[string]any{"i": i})
		require.NoError(t, err)
		_, err = m.Connect(ctx, root, n, "E", nil)
		require.NoError(t, err)
		ids = append(ids, n)
	}
	require.NoError(t, m.Commit(ctx))
	require.NoError(t, m.Delete(ctx, ids[0]))
	require.NoError(t, m.Commit(ctx))
	before := Meta(t, s)
	last := Stored(t, s, ids[1]).Updated

	s = h.Reopen(s)
	after := Meta(t, s)
	require.Equal(t, before.StoreID, after.StoreID)
	require.Equal(t, before.ReplicaID, after.ReplicaID)
	require.Equal(t, before.Seq, after.Seq)
	require.GreaterOrEqual(t, after.HLC, before.HLC, "the HLC never goes backwards")
	require.Equal(t, 19, EdgeCount(t, s, root))
	m = tiered.New(s, root, nil)
	for i, id := range ids[1:] {
		var v int
		require.NoError(t, m.Field(ctx, id, "i", &v))
		require.Equal(t, i+1, v)
	}
	require.NoError(t, m.Set(ctx, ids[1], "i", 100))
	require.NoError(t, m.Commit(ctx))
	require.Greater(t, Stored(t, s, ids[1]).Updated, last)
	require.Greater(t, Meta(t, s).Seq, before.Seq)
}
