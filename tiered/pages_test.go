package tiered_test

import (
	"bytes"
	"context"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestEdgesSeqAcrossPages lists a hub of 1,680 edges, a sixth of them
// unreadable to the walker, through pages that grow from 256 rows to
// 4,096: every readable edge comes once, in creation order (one batch per
// stamp, by edge ID within it), none of the others, across every page
// boundary; and EdgePage's cursors walk the same rows.
func TestEdgesSeqAcrossPages(t *testing.T) {
	ctx, s := context.Background(), tempStore(t)
	owner, reader := anchor.NewID(), anchor.NewID()
	m := tiered.New(s, owner, nil)
	hub, err := m.Create(anchor.KindNode, "Hub", nil)
	require.NoError(t, err)
	peer, err := m.Create(anchor.KindNode, "Peer", nil)
	require.NoError(t, err)
	require.NoError(t, m.Grant(ctx, hub, reader, anchor.Connect))
	require.NoError(t, m.Grant(ctx, peer, reader, anchor.Connect))
	require.NoError(t, m.Commit(ctx))

	var want []anchor.ID
	for batch := range 14 {
		w := tiered.New(s, reader, nil)
		var ids []anchor.ID
		for range 100 {
			id, err := w.Connect(ctx, hub, peer, "Has", nil)
			require.NoError(t, err)
			ids = append(ids, id)
		}
		require.NoError(t, w.Commit(ctx))
		slices.SortFunc(ids, func(a, b anchor.ID) int { return bytes.Compare(a[:], b[:]) })
		want = append(want, ids...)
		for range 20 + batch%3 { // the owner's own edges: not readable by reader
			_, err := m.Connect(ctx, hub, peer, "Secret", nil)
			require.NoError(t, err)
		}
		require.NoError(t, m.Commit(ctx))
	}

	var got []anchor.ID
	for r, err := range tiered.New(s, reader, nil).EdgesSeq(ctx, hub) {
		require.NoError(t, err)
		if got = append(got, r.Edge); len(got) > len(want) {
			break // a page read twice: fail below rather than loop
		}
	}
	require.Equal(t, want, got)

	var paged []anchor.ID
	w := tiered.New(s, reader, nil)
	for q := (delta.EdgeQuery{}); len(paged) <= len(want); {
		rows, next, err := w.EdgePage(ctx, hub, q, 300)
		require.NoError(t, err)
		for _, r := range rows {
			paged = append(paged, r.Edge)
		}
		if next == nil {
			break
		}
		q.After = next
	}
	require.Equal(t, want, paged)
}
