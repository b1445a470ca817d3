package delta_test

import (
	"crypto/rand"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

var errFull = errors.New("page full")

// TestEdgesMergeOrder: a node with edges of two types in both directions
// and undirected ones, made one batch each, with random edge IDs: every
// query lists its rows in creation order, and pages of any size resume
// exactly after their cursor.
func TestEdgesMergeOrder(t *testing.T) {
	tx := newMemTx()
	node := anchor.NewID()
	create := func(a *anchor.Anchor) {
		require.NoError(t, tx.apply(&delta.Batch{Changes: []delta.Change{{ID: a.ID, Create: a}}}))
	}
	create(&anchor.Anchor{ID: node, Kind: anchor.KindNode, Owner: node, Type: "Hub"})
	type made struct {
		id  anchor.ID
		dir anchor.Direction
		typ string
	}
	var all []made
	for i := range 30 {
		peer := anchor.NewID()
		create(&anchor.Anchor{ID: peer, Kind: anchor.KindNode, Owner: node, Type: "Peer"})
		var id anchor.ID
		rand.Read(id[:]) // no order to lean on
		e := &anchor.Anchor{ID: id, Kind: anchor.KindEdge, Owner: node, Type: []string{"A", "B"}[i%2], Source: node, Target: peer}
		dir := anchor.Out
		switch i % 3 {
		case 1:
			e.Source, e.Target, dir = peer, node, anchor.In
		case 2:
			e.Undirected, dir = true, anchor.Both
		}
		create(e)
		all = append(all, made{id, dir, e.Type})
	}
	want := func(q delta.EdgeQuery) []anchor.ID {
		var ids []anchor.ID
		for _, m := range all {
			if (q.Dir == 0 || q.Dir == m.dir) && (q.Type == "" || q.Type == m.typ) {
				ids = append(ids, m.id)
			}
		}
		return ids
	}
	for _, q := range []delta.EdgeQuery{{}, {Dir: anchor.Out}, {Dir: anchor.Both}, {Type: "A"}, {Dir: anchor.In, Type: "B"}} {
		for _, page := range []int{1, 4, 100} {
			var got []anchor.ID
			q := q
			for {
				n := 0
				var next []byte
				err := delta.Edges(tx, node, q, func(e *delta.EdgeEntry) error {
					if n == page {
						return errFull
					}
					n++
					got = append(got, e.Edge)
					next = append(next[:0], e.Cursor...)
					return nil
				})
				if err == nil {
					break
				}
				require.ErrorIs(t, err, errFull)
				q.After = next
			}
			require.Equal(t, want(q), got, "query %+v in pages of %d", q, page)
		}
	}
	err := delta.Edges(tx, node, delta.EdgeQuery{After: []byte("short")}, func(*delta.EdgeEntry) error { return nil })
	require.ErrorIs(t, err, anchor.ErrInvalid)
}
