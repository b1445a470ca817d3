package tiered

import (
	"bytes"
	"context"
	"errors"
	"iter"
	"slices"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// EdgesSeq streams node's edges as this walker sees them, in edge-ID
// order: the stored adjacency without the edges it removed (or that go to
// an anchor it deleted), merged with the edges it added and has not yet
// written. Its memory is bounded by one row and the walker's own unwritten
// edges, not by the number of edges the node has.
//
// Access is checked on the store's current state, in the same snapshot as
// the rows: Read on node (so a revoked grant takes effect at once, even for
// a node this walker loaded before), and Read on each stored edge, whose
// rows are left out when this walker may not read it.
//
// The whole iteration is one read snapshot, and the loop body runs inside
// it: the body must not write (Put, Commit, the store's Apply), which on
// bolt may wait for the snapshot to end, and should not open another read
// (Get or Field of an anchor not yet in L1, Edges): on bolt a writer that
// grows the file waits for the first snapshot while the second waits for
// the writer. Collect what to load or change and do it after the loop.
// Anchors already in L1 are free to use. An error is
// yielded once, with a zero Adj, and ends the iteration; so does breaking
// out of the loop. The context is checked every 1,024 rows.
func (m *Memory) EdgesSeq(ctx context.Context, node anchor.ID) iter.Seq2[anchor.Adj, error] {
	return func(yield func(anchor.Adj, error) bool) {
		stopped := false
		err := m.streamEdges(ctx, node, func(r anchor.Adj) bool {
			stopped = !yield(r, nil)
			return !stopped
		})
		if err != nil && !stopped {
			yield(anchor.Adj{}, err)
		}
	}
}

// Edges returns node's edges as EdgesSeq lists them, sorted by edge ID,
// in one slice. For a node with many edges prefer EdgesSeq, whose memory
// does not grow with the node.
func (m *Memory) Edges(ctx context.Context, node anchor.ID) ([]anchor.Adj, error) {
	var rows []anchor.Adj
	for r, err := range m.EdgesSeq(ctx, node) {
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// errStop ends a scan when the consumer stops.
var errStop = errors.New("tiered: iteration stopped")

// streamEdges calls fn for each of node's rows as EdgesSeq defines them;
// it returns errStop once fn returns false.
func (m *Memory) streamEdges(ctx context.Context, node anchor.ID, fn func(anchor.Adj) bool) error {
	e, err := m.load(ctx, "edges", node)
	if err != nil {
		return err
	}
	own := m.pendingEdges(node)
	return m.store.View(ctx, func(v backend.View) error {
		if e.snap != nil {
			a, err := v.Anchor(node)
			if err != nil {
				return err
			}
			if !a.Allows(m.root, anchor.Read) {
				return &anchor.Error{Op: "edges", ID: node, Need: anchor.Read, Root: m.root, Err: anchor.ErrAccessDenied}
			}
		}
		n := 0
		err := v.Adjacent(node, func(r anchor.Adj) error {
			if n++; n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			for len(own) > 0 && bytes.Compare(own[0].Edge[:], r.Edge[:]) < 0 {
				if !fn(own[0]) {
					return errStop
				}
				own = own[1:]
			}
			if m.deleted(r.Edge) || m.deleted(r.Peer) {
				return nil
			}
			if !m.root.IsZero() { // the system root reads everything
				edge, err := v.Anchor(r.Edge)
				if err != nil {
					return err
				}
				if !edge.Allows(m.root, anchor.Read) {
					return nil
				}
			}
			if !fn(r) {
				return errStop
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, r := range own {
			if !fn(r) {
				return errStop
			}
		}
		return nil
	})
}

// pendingEdges returns node's rows of the edges this walker added and has
// not written (none to an anchor it deleted), sorted by edge ID.
func (m *Memory) pendingEdges(node anchor.ID) []anchor.Adj {
	var rows []anchor.Adj
	for _, x := range m.l1 {
		if x.snap != nil || x.cur.Kind != anchor.KindEdge {
			continue
		}
		for _, r := range x.cur.Adjacency() {
			if r.Node == node && !m.deleted(r.Peer) {
				rows = append(rows, r)
			}
		}
	}
	slices.SortFunc(rows, func(a, b anchor.Adj) int { return bytes.Compare(a.Edge[:], b.Edge[:]) })
	return rows
}
