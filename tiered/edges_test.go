package tiered_test

import (
	"bytes"
	"context"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestEdgesSeq checks the streaming listing against the rules EdgesOf
// documents: stored rows in creation order (edges of one batch share a
// stamp: by edge ID), then the walker's unwritten edges, edges it may not
// read left out, rows of what it deleted hidden, and a break that stops
// the scan.
func TestEdgesSeq(t *testing.T) {
	ctx, s := context.Background(), tempStore(t)
	owner, reader := anchor.NewID(), anchor.NewID()
	m := tiered.New(s, owner, nil)
	hub, err := m.Create(anchor.KindNode, "Hub", nil)
	require.NoError(t, err)
	require.NoError(t, m.Grant(ctx, hub, reader, anchor.Connect))
	var peers []anchor.ID
	for range 6 {
		p, err := m.Create(anchor.KindNode, "Peer", nil)
		require.NoError(t, err)
		require.NoError(t, m.Grant(ctx, p, reader, anchor.Connect))
		peers = append(peers, p)
	}
	secret, err := m.Connect(ctx, hub, peers[0], "Secret", nil) // owner's edge, no grant
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))

	w := tiered.New(s, reader, nil)
	var stored []anchor.ID
	for _, p := range peers[1:4] {
		id, err := w.Connect(ctx, hub, p, "Has", nil)
		require.NoError(t, err)
		stored = append(stored, id)
	}
	require.NoError(t, w.Commit(ctx))
	pending, err := w.Connect(ctx, peers[4], hub, "Likes", nil)
	require.NoError(t, err)
	require.NoError(t, w.Delete(ctx, peers[3])) // hides stored[2]

	var got []anchor.Adj
	for r, err := range w.EdgesSeq(ctx, hub) {
		require.NoError(t, err)
		got = append(got, r)
	}
	ids := make([]anchor.ID, len(got))
	for i, r := range got {
		ids[i] = r.Edge
	}
	want := []anchor.ID{stored[0], stored[1]}
	slices.SortFunc(want, func(a, b anchor.ID) int { return bytes.Compare(a[:], b[:]) })
	want = append(want, pending)
	require.Equal(t, want, ids, "in creation order, the unwritten last, without the unreadable or deleted")
	require.NotContains(t, ids, secret)

	all, err := w.Edges(ctx, hub)
	require.NoError(t, err)
	require.Equal(t, got, all)

	n := 0
	for range w.EdgesSeq(ctx, hub) {
		n++
		break
	}
	require.Equal(t, 1, n)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, err := range w.EdgesSeq(cancelled, hub) {
		require.ErrorIs(t, err, context.Canceled)
	}
}

// TestEdgesPublicFlagFollowsGrants: the edge index marks an edge every
// root may read, so a listing need not load it; revoking one root's Read
// on the edge must clear the mark (the listing then checks, and leaves the
// edge out for that root), and Verify's rebuild agrees.
func TestEdgesPublicFlagFollowsGrants(t *testing.T) {
	ctx, s := context.Background(), tempStore(t)
	owner, reader := anchor.NewID(), anchor.NewID()
	m := tiered.New(s, owner, nil)
	hub, _ := m.Create(anchor.KindNode, "Hub", nil)
	peer, _ := m.Create(anchor.KindNode, "Peer", nil)
	require.NoError(t, m.SetAccess(ctx, hub, anchor.Access{All: anchor.Read}))
	edge, err := m.Connect(ctx, hub, peer, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, m.SetAccess(ctx, edge, anchor.Access{All: anchor.Read}))
	require.NoError(t, m.Commit(ctx))

	list := func() []anchor.Adj {
		rows, err := tiered.New(s, reader, nil).Edges(ctx, hub)
		require.NoError(t, err)
		return rows
	}
	require.Len(t, list(), 1, "a public edge is listed")
	require.NoError(t, m.Grant(ctx, edge, reader, anchor.NoAccess))
	require.NoError(t, m.Commit(ctx))
	require.Empty(t, list(), "revoked for this reader")
	require.NoError(t, m.Grant(ctx, edge, reader, anchor.Read))
	require.NoError(t, m.Commit(ctx))
	require.Len(t, list(), 1)
	rep, err := backend.Verify(ctx, s)
	require.NoError(t, err)
	require.True(t, rep.Clean(), "%v", rep.Problems)
}

// TestSnapshotReleasedWithoutClose: a walker with Options.Snapshot dropped
// without Close gives its snapshot back once collected, so a writer that
// must grow the bolt file is not held up for good.
func TestSnapshotReleasedWithoutClose(t *testing.T) {
	ctx, s := context.Background(), tempStore(t)
	root := anchor.NewID()
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "Note", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	func() {
		w := tiered.New(s, root, &tiered.Options{Snapshot: true})
		_, err := w.Get(ctx, n)
		require.NoError(t, err)
	}() // w dropped, never closed
	done := make(chan error, 1)
	go func() { // grows the file: bbolt remaps, waiting for every reader
		big := tiered.New(s, root, nil)
		for range 2000 {
			if _, err := big.Create(anchor.KindNode, "Blob", map[string]any{"b": string(make([]byte, 4096))}); err != nil {
				done <- err
				return
			}
		}
		done <- big.Commit(ctx)
	}()
	for {
		select {
		case err := <-done:
			require.NoError(t, err)
			return
		case <-time.After(50 * time.Millisecond):
			runtime.GC()
		}
	}
}

// TestValidateReadsAfterAbort: a walker whose commit conflicted aborts and
// retries; the retry validates what it read after the abort, so a change
// that made the first attempt conflict does not fail every later one.
func TestValidateReadsAfterAbort(t *testing.T) {
	ctx, s := context.Background(), tempStore(t)
	root := anchor.NewID()
	setup := tiered.New(s, root, nil)
	doc, err := setup.Create(anchor.KindNode, "Doc", map[string]any{"v": 0})
	require.NoError(t, err)
	require.NoError(t, setup.Commit(ctx))

	w := tiered.New(s, root, &tiered.Options{ValidateReads: true})
	_, err = w.Get(ctx, doc)
	require.NoError(t, err)
	other := tiered.New(s, root, nil)
	require.NoError(t, other.Set(ctx, doc, "v", 1))
	require.NoError(t, other.Commit(ctx))
	require.NoError(t, w.Set(ctx, doc, "seen", true))
	require.ErrorIs(t, w.Commit(ctx), anchor.ErrConflict)

	w.Abort()
	_, err = w.Get(ctx, doc) // reads v = 1
	require.NoError(t, err)
	require.NoError(t, w.Set(ctx, doc, "seen", true))
	require.NoError(t, w.Commit(ctx), "the retry read the current state")
}
