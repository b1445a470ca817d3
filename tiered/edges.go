package tiered

import (
	"context"
	"errors"
	"iter"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// pageRows is how many rows the first read of a listing fetches; each
// full page after it fetches four times as many, up to maxPageRows: the
// memory an iterator holds, whatever the node's edges. A listing that
// stops early reads little more than it used, and a long one pays for a
// read (a snapshot, the node's access check) every few thousand rows.
const (
	pageRows    = 256
	maxPageRows = 4096
)

// EdgesOf lists node's edges that q selects (a direction, a type), as this
// walker sees them, in the order delta.EdgeQuery documents: the order the
// edges were created. Stored rows come first, without the edges this
// walker removed (or that go to an anchor it deleted); then the edges it
// added and has not written, in the order it made them.
//
// Finding the rows of one type costs O(log n + k) in the node's edges n
// and the rows k, however many edges of other types the node has.
//
// Access is checked on the store's current state, in the same read as
// the rows: Read on node (so a revoked grant takes effect at once) and
// Read on each stored edge, whose rows are left out when this walker may
// not read it. Rows are read in pages (256 rows, then each four times the
// last, up to 4,096), each page one read of the store (the walker's
// snapshot with Options.Snapshot), and yielded after the read ends: the
// loop body may do anything, Get and Commit included.
// An error is yielded once, with a zero Adj, and ends the iteration; the
// context is checked for every page.
func (m *Memory) EdgesOf(ctx context.Context, node anchor.ID, q delta.EdgeQuery) iter.Seq2[anchor.Adj, error] {
	return func(yield func(anchor.Adj, error) bool) {
		e, err := m.load(ctx, "edges", node)
		if err != nil {
			yield(anchor.Adj{}, err)
			return
		}
		var buf pager // reused by every page of the listing
		for n := pageRows; e.snap != nil; n = min(4*n, maxPageRows) {
			rows, next, err := m.page(ctx, node, q, n, &buf)
			if err != nil {
				yield(anchor.Adj{}, err)
				return
			}
			for _, r := range rows {
				if !yield(r, nil) {
					return
				}
			}
			if next == nil {
				break
			}
			buf.after = append(buf.after[:0], next...) // next is overwritten by the next page
			q.After = buf.after
		}
		for _, r := range m.pendingEdges(node, q) {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// EdgesSeq lists every edge of node: EdgesOf with an empty query.
func (m *Memory) EdgesSeq(ctx context.Context, node anchor.ID) iter.Seq2[anchor.Adj, error] {
	return m.EdgesOf(ctx, node, delta.EdgeQuery{})
}

// Edges returns node's edges as EdgesSeq lists them, in one slice. For a
// node with many edges prefer EdgesOf or EdgePage.
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

// EdgePage returns up to limit stored rows of node that q selects (from
// q.After), as EdgesOf lists them, and the cursor of the next page (nil
// after the last). The last page also lists the edges this walker added
// and has not written. Only the rows returned are read.
func (m *Memory) EdgePage(ctx context.Context, node anchor.ID, q delta.EdgeQuery, limit int) (rows []anchor.Adj, next []byte, err error) {
	e, err := m.load(ctx, "edges", node)
	if err != nil {
		return nil, nil, err
	}
	if e.snap != nil {
		if rows, next, err = m.page(ctx, node, q, max(limit, 1), &pager{}); err != nil || next != nil {
			return rows, next, err
		}
	}
	return append(rows, m.pendingEdges(node, q)...), nil, nil
}

// errPageFull ends a page's scan once it holds its rows.
var errPageFull = errors.New("tiered: page full")

// pager holds the buffers of a listing's pages, reused from page to page.
type pager struct {
	rows        []anchor.Adj
	seen        []anchor.ID // the raw rows' edges, for read validation
	next, after []byte
}

// page reads up to n stored rows of node that q selects, in one read, and
// the cursor after the last one when more may follow. rows and next live in
// buf until its next page.
func (m *Memory) page(ctx context.Context, node anchor.ID, q delta.EdgeQuery, n int, buf *pager) (rows []anchor.Adj, next []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var seen []anchor.ID
	err = m.view(ctx, func(v backend.View) error {
		rows, next, seen = buf.rows[:0], buf.next[:0], buf.seen[:0]
		a, err := v.Anchor(node)
		if err != nil {
			return err
		}
		if !a.Allows(m.root, anchor.Read) {
			return &anchor.Error{Op: "edges", ID: node, Need: anchor.Read, Root: m.root, Err: anchor.ErrAccessDenied}
		}
		return delta.Edges(v, node, q, func(r *delta.EdgeEntry) error {
			if len(rows) == n {
				return errPageFull
			}
			next = append(next[:0], r.Cursor...)
			if m.opts.ValidateReads {
				seen = append(seen, r.Edge)
			}
			if m.deleted(r.Edge) || m.deleted(r.Peer) {
				return nil
			}
			if !m.root.IsZero() && r.Owner != m.root && !r.Public { // else the index says it is readable
				edge, err := v.Anchor(r.Edge)
				if err != nil {
					return err
				}
				if !edge.Allows(m.root, anchor.Read) {
					return nil
				}
			}
			rows = append(rows, r.Adj)
			return nil
		})
	})
	buf.rows, buf.next, buf.seen = rows, next, seen
	if errors.Is(err, errPageFull) {
		m.readList(node, q, seen, false)
		return rows, next, nil
	}
	if err == nil {
		m.readList(node, q, seen, true)
	}
	return rows, nil, err
}

// pendingEdges returns node's rows of the edges this walker added and has
// not written (none to an anchor it deleted) that q selects, in the order
// it made them (their IDs are time-ordered).
func (m *Memory) pendingEdges(node anchor.ID, q delta.EdgeQuery) []anchor.Adj {
	var rows []anchor.Adj
	for _, x := range m.l1 {
		if x.snap != nil || x.cur.Kind != anchor.KindEdge || (q.Type != "" && x.cur.Type != q.Type) {
			continue
		}
		for _, r := range x.cur.Adjacency() {
			if r.Node == node && (q.Dir == 0 || q.Dir == r.Dir) && !m.deleted(r.Peer) {
				rows = append(rows, r)
			}
		}
	}
	sortRows(rows)
	return rows
}
