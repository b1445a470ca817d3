package backendtest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// Purger is a store that can purge tombstones (every backend's Engine).
type Purger interface {
	backend.Store
	Purge(ctx context.Context, before anchor.HLC, opts *backend.PurgeOptions) (backend.PurgeStats, error)
}

// RunPurge runs the tombstone-purge cases against the backend that open
// opens: purging a deleted hub, replication across a purge, bad input,
// and writers running beside a purge.
// With compact, it also compacts a purged store, requiring the store to
// shrink if shrinks.
func RunPurge(t *testing.T, open Opener, compact Compactor, shrinks bool) {
	tests := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"PurgeDeletedHub", testPurgeHub},
		{"PurgeRefusesStaleReplica", testPurgeReplication},
		{"PurgeBoundedByReplicas", testPurgeReplicated},
		{"PurgeInvalidInput", testPurgeInvalid},
		{"PurgeBesideWriters", testPurgeBesideWriters},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
	if compact != nil {
		t.Run("PurgeThenCompact", func(t *testing.T) { testPurgeCompact(t, open, compact, shrinks) })
	}
}

// Compactor compacts the store s that an Opener opened from dir; reopen
// opens that store again (for a backend that compacts closed files). It
// returns the store to go on with and the sizes before and after.
type Compactor func(t testing.TB, dir string, s backend.Store, reopen func() backend.Store) (backend.Store, backend.CompactStats)

func purger(t testing.TB, s backend.Store) Purger {
	t.Helper()
	p, ok := s.(Purger)
	require.True(t, ok, "%T has no Purge", s)
	return p
}

// hubGraph creates, under a new root, a hub with n edges to n peers (each
// with a field) and one live edge from the root to a peer; it returns the
// root, the hub, the hub's edges and the peers.
func hubGraph(t testing.TB, s backend.Store, n, pad int) (root, hub anchor.ID, edges, peers []anchor.ID) {
	t.Helper()
	root = NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	hub, err := m.Create(anchor.KindNode, "Hub", map[string]any{"name": "hub"})
	require.NoError(t, err)
	for i := range n {
		p, err := m.Create(anchor.KindNode, "Peer", map[string]any{"i": i})
		require.NoError(t, err)
		e, err := m.Connect(ctx, hub, p, "Link", map[string]any{"w": i, "pad": strings.Repeat("x", pad)})
		require.NoError(t, err)
		peers, edges = append(peers, p), append(edges, e)
	}
	_, err = m.Connect(ctx, root, peers[0], "Keeps", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	return root, hub, edges, peers
}

func deleteNode(t testing.TB, s backend.Store, root, id anchor.ID) anchor.HLC {
	t.Helper()
	m := tiered.New(s, root, nil)
	require.NoError(t, m.Delete(ctx, id))
	require.NoError(t, m.Commit(ctx))
	d := Stored(t, s, id).Deleted
	require.NotZero(t, d)
	return d
}

// logged returns every change-log entry of s by anchor.
func logged(t testing.TB, s backend.Store) map[anchor.ID]uint64 {
	t.Helper()
	out := map[anchor.ID]uint64{}
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		return v.Changes(0, func(seq uint64, id anchor.ID) error { out[id] = seq; return nil })
	}))
	return out
}

// testPurgeHub deletes a hub with many edges, purges in several chunks,
// and checks that exactly its tombstones and their log entries are gone,
// later tombstones and live data untouched, and the store keeps working.
func testPurgeHub(t *testing.T, open Opener) {
	h := New(t, open)
	s := h.Open()
	const n = 120
	root, hub, edges, peers := hubGraph(t, s, n, 0)
	lone := NewRootNode(t, s, anchor.Access{}) // deleted after the horizon: stays
	deleted := deleteNode(t, s, root, hub)
	before := deleted + 1
	later := deleteNode(t, s, lone, lone)
	require.Greater(t, later, deleted)

	r0 := RequireClean(t, s)
	require.Equal(t, n+2, r0.Tombstones)
	seq0 := Meta(t, s).Seq
	log0 := logged(t, s)
	var keep []*anchor.Anchor
	for _, id := range append([]anchor.ID{root, lone}, peers...) {
		keep = append(keep, Stored(t, s, id))
	}

	var progress []backend.PurgeStats
	st, err := purger(t, s).Purge(ctx, before, &backend.PurgeOptions{Chunk: 50, Progress: func(p backend.PurgeStats) { progress = append(progress, p) }})
	require.NoError(t, err)
	require.Equal(t, n+1, st.Candidates)
	require.Equal(t, n+1, st.Purged)
	require.Zero(t, st.Kept)
	require.Equal(t, 3, st.Chunks) // 50 + 50 + 21
	require.Len(t, progress, 3)
	require.Equal(t, 100, progress[1].Purged)
	var maxSeq uint64
	for _, id := range append([]anchor.ID{hub}, edges...) {
		maxSeq = max(maxSeq, log0[id])
	}
	require.Equal(t, backend.Horizon{Before: before, Seq: maxSeq}, st.Horizon)

	check := func(s backend.Store) {
		t.Helper()
		r := RequireClean(t, s)
		require.Equal(t, 1, r.Tombstones, "only the later delete stays")
		require.Equal(t, r0.Anchors-(n+1), r.Anchors)
		require.Equal(t, r0.LogEntries-(n+1), r.LogEntries)
		require.Equal(t, r0.Adjacency, r.Adjacency)
		require.Equal(t, r0.Edges, r.Edges)
		require.Equal(t, seq0, Meta(t, s).Seq, "the sequence never goes back")
		log := logged(t, s)
		for _, id := range append([]anchor.ID{hub}, edges...) {
			_, err := tiered.New(s, root, nil).Get(ctx, id)
			require.ErrorIs(t, err, anchor.ErrNotFound)
			_, ok := log[id]
			require.False(t, ok, "log entry of purged %s", id)
		}
		for _, want := range keep {
			require.Equal(t, log0[want.ID], log[want.ID], "log entry of %s moved", want.ID)
			got := Stored(t, s, want.ID)
			wb, err := anchor.Marshal(want)
			require.NoError(t, err)
			gb, err := anchor.Marshal(got)
			require.NoError(t, err)
			require.True(t, bytes.Equal(wb, gb), "%s changed by the purge", want.ID)
		}
		var hz backend.Horizon
		require.NoError(t, s.View(ctx, func(v backend.View) (err error) { hz, err = backend.ReadHorizon(v); return err }))
		require.Equal(t, st.Horizon, hz)
	}
	check(s)
	s = h.Reopen(s)
	check(s)

	// Purging again finds nothing; the store keeps working, the log goes on.
	st2, err := purger(t, s).Purge(ctx, before, nil)
	require.NoError(t, err)
	require.Zero(t, st2.Candidates)
	require.Equal(t, st.Horizon, st2.Horizon)
	m := tiered.New(s, root, nil)
	fresh, err := m.Create(anchor.KindNode, "After", nil)
	require.NoError(t, err)
	_, err = m.Connect(ctx, root, fresh, "Link", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	require.Greater(t, logged(t, s)[fresh], seq0)
}

// testPurgeReplication: a replica that had not imported a delete is
// refused a partial sync after the source purged it, and a fresh replica's
// full sync lacks the purged anchors; one that had imported it syncs on.
func testPurgeReplication(t *testing.T, open Opener) {
	src := New(t, open).Open()
	stale := New(t, open).Open()
	current := New(t, open).Open()
	root, hub, edges, _ := hubGraph(t, src, 20, 0)
	_, err := replica.Sync(ctx, src, stale, nil)
	require.NoError(t, err)
	deleted := deleteNode(t, src, root, hub)
	_, err = replica.Sync(ctx, src, current, nil)
	require.NoError(t, err)
	require.False(t, Stored(t, current, hub).Live())
	require.True(t, Stored(t, stale, hub).Live())

	st, err := purger(t, src).Purge(ctx, deleted+1, nil)
	require.NoError(t, err)
	require.Equal(t, 21, st.Purged)

	// The stale replica is refused, and told to rebuild.
	cur, _, err := replica.ReadCursor(ctx, stale, Meta(t, src).StoreID)
	require.NoError(t, err)
	require.Less(t, cur.Through, st.Horizon.Seq)
	_, err = replica.Sync(ctx, src, stale, nil)
	require.ErrorIs(t, err, replica.ErrPurged)
	var pe *replica.PurgedError
	require.True(t, errors.As(err, &pe), "%T: %v", err, err)
	require.Equal(t, cur.Through, pe.Cursor)
	require.Equal(t, st.Horizon, pe.Horizon)
	require.Contains(t, err.Error(), "new, empty store")
	_, err = replica.Export(ctx, src, &bytes.Buffer{}, &replica.ExportOptions{After: cur.Through})
	require.ErrorIs(t, err, replica.ErrPurged)
	var full bytes.Buffer
	_, err = replica.Export(ctx, src, &full, nil)
	require.NoError(t, err, "a full export is always allowed")
	_, err = replica.Import(ctx, stale, bytes.NewReader(full.Bytes()), nil)
	require.ErrorIs(t, err, replica.ErrPurged, "but not into a store that missed purged deletes: it would keep them")
	require.True(t, Stored(t, stale, hub).Live(), "a refused sync changes nothing")
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	require.ErrorIs(t, replica.Follow(fctx, src, stale, nil), replica.ErrPurged, "Follow stops: no round can succeed")

	// The replica that had imported the delete syncs on.
	m := tiered.New(src, root, nil)
	extra, err := m.Create(anchor.KindNode, "Extra", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	_, err = replica.Sync(ctx, src, current, nil)
	require.NoError(t, err)
	require.True(t, Stored(t, current, extra).Live())
	require.False(t, Stored(t, current, hub).Live(), "its tombstone stays where it was imported")

	// A full sync into a new store: the purged anchors are simply absent.
	rebuilt := New(t, open).Open()
	_, err = replica.Sync(ctx, src, rebuilt, nil)
	require.NoError(t, err)
	for _, id := range append([]anchor.ID{hub}, edges...) {
		require.NoError(t, rebuilt.View(ctx, func(v backend.View) error {
			_, err := v.Anchor(id)
			require.ErrorIs(t, err, anchor.ErrNotFound)
			return nil
		}))
	}
	require.True(t, Stored(t, rebuilt, extra).Live())
	_, err = replica.Import(ctx, New(t, open).Open(), bytes.NewReader(full.Bytes()), nil)
	require.NoError(t, err, "a full export imports into a new store")
}

func testPurgeInvalid(t *testing.T, open Opener) {
	s := New(t, open).Open()
	p := purger(t, s)
	_, err := p.Purge(ctx, 0, nil)
	require.ErrorIs(t, err, anchor.ErrInvalid)
	_, err = p.Purge(ctx, 1, &backend.PurgeOptions{Chunk: -1})
	require.ErrorIs(t, err, backend.ErrOptions)
	st, err := p.Purge(ctx, anchor.MakeHLC(1, 0), nil)
	require.NoError(t, err, "an empty store has nothing to purge")
	require.Zero(t, st.Candidates)
}

// testPurgeBesideWriters: writers keep committing while a purge runs in
// small chunks; every write lands and the store stays consistent.
func testPurgeBesideWriters(t *testing.T, open Opener) {
	s := New(t, open).Open()
	root, hub, _, _ := hubGraph(t, s, 100, 0)
	before := deleteNode(t, s, root, hub) + 1
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				m := tiered.New(s, root, nil)
				id, err := m.Create(anchor.KindNode, "W", map[string]any{"w": w, "i": i})
				if err == nil {
					_, err = m.Connect(ctx, root, id, "Made", nil)
				}
				if err == nil {
					err = m.Commit(ctx)
				}
				errs <- err
			}
		}()
	}
	st, err := purger(t, s).Purge(ctx, before, &backend.PurgeOptions{Chunk: 7})
	wg.Wait()
	close(errs)
	require.NoError(t, err)
	require.Equal(t, 101, st.Purged)
	for err := range errs {
		require.NoError(t, err)
	}
	r := RequireClean(t, s)
	require.Equal(t, 0, r.Tombstones)
	require.Equal(t, 1+40, EdgeCount(t, s, root)) // the Keeps edge and the writers' edges
}

// testPurgeCompact deletes a hub whose edges carry most of the store's
// bytes, purges it, compacts, and requires the store to shrink below its
// size before the delete, with the live data intact.
func testPurgeCompact(t *testing.T, open Opener, compact Compactor, shrinks bool) {
	h := New(t, open)
	s := h.Open()
	const n = 1500
	root, hub, _, peers := hubGraph(t, s, n, 400)
	built, err := s.Size(ctx)
	require.NoError(t, err)
	before := deleteNode(t, s, root, hub) + 1
	st, err := purger(t, s).Purge(ctx, before, nil)
	require.NoError(t, err)
	require.Equal(t, n+1, st.Purged)
	purged, err := s.Size(ctx)
	require.NoError(t, err)
	s, cs := compact(t, h.Dir(), s, h.Open)
	t.Logf("size built %d, purged %d, compacted %d -> %d bytes", built, purged, cs.Before, cs.After)
	if shrinks {
		require.Less(t, cs.After, cs.Before, "compaction gives the purged space back")
		require.Less(t, cs.After, built/2, "a store without the hub is far smaller than with it")
	}
	r := RequireClean(t, s)
	require.Zero(t, r.Tombstones)
	require.Equal(t, 1, r.Edges)
	require.Equal(t, 1, EdgeCount(t, s, root))
	for _, p := range peers[:10] {
		var i int
		require.NoError(t, tiered.New(s, root, nil).Field(ctx, p, "i", &i))
	}
	m := tiered.New(s, root, nil)
	_, err = m.Create(anchor.KindNode, "AfterCompact", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
}

// testPurgeReplicated: bounded by the replicas' least cursor
// (replica.MinCursor), a purge removes only the tombstones every replica
// has imported, so none of them is refused a later sync.
func testPurgeReplicated(t *testing.T, open Opener) {
	src := New(t, open).Open()
	ahead := New(t, open).Open()
	behind := New(t, open).Open()
	root, early, _, _ := hubGraph(t, src, 5, 0)
	deleteNode(t, src, root, early)
	for _, r := range []backend.Store{ahead, behind} {
		_, err := replica.Sync(ctx, src, r, nil)
		require.NoError(t, err)
	}
	m := tiered.New(src, root, nil)
	late, err := m.Create(anchor.KindNode, "Late", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	deleteNode(t, src, root, late)
	_, err = replica.Sync(ctx, src, ahead, nil)
	require.NoError(t, err)

	_, err = replica.MinCursor(ctx, src, ahead, New(t, open).Open())
	require.ErrorIs(t, err, replica.ErrNoCursor)
	_, err = replica.MinCursor(ctx, src)
	require.ErrorIs(t, err, anchor.ErrInvalid)
	bound, err := replica.MinCursor(ctx, src, ahead, behind)
	require.NoError(t, err)
	cb, _, err := replica.ReadCursor(ctx, behind, Meta(t, src).StoreID)
	require.NoError(t, err)
	require.Equal(t, cb.Through, bound)

	everything := anchor.MakeHLC(time.Now().Add(time.Hour).UnixMilli(), 0)
	st, err := purger(t, src).Purge(ctx, everything, &backend.PurgeOptions{Replicated: bound})
	require.NoError(t, err)
	require.Equal(t, 6, st.Purged, "the early hub and its edges, which both replicas hold")
	require.LessOrEqual(t, st.Horizon.Seq, bound)
	require.False(t, Stored(t, src, late).Live(), "the late delete stays: behind has not imported it")

	_, err = replica.Sync(ctx, src, behind, nil)
	require.NoError(t, err, "no replica is refused")
	require.False(t, Stored(t, behind, late).Live())
	_, err = replica.Sync(ctx, src, ahead, nil)
	require.NoError(t, err)

	bound, err = replica.MinCursor(ctx, src, ahead, behind)
	require.NoError(t, err)
	st, err = purger(t, src).Purge(ctx, everything, &backend.PurgeOptions{Replicated: bound})
	require.NoError(t, err)
	require.Equal(t, 1, st.Purged, "now both hold the late delete")
	for _, r := range []backend.Store{ahead, behind} {
		_, err := replica.Sync(ctx, src, r, nil)
		require.NoError(t, err)
	}
}
