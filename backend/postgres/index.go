package postgres

import (
	"bytes"

	"github.com/jackc/pgx/v5"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// The idx table (layout 2) holds delta's secondary-index entries, k -> v;
// each value carries delta's checksum of key and value.

// indexChunk is how many entries one statement of a scan reads: a scan
// that stops early (a page, a lookup) reads little more than it uses. A
// write transaction's read of a node's whole adjacency (a cascade) reads
// chunks growing fourfold up to maxChunk: a hub of 5·10^4 edges is five
// statements.
const (
	indexChunk = 256
	maxChunk   = 1 << 16
)

func (t tables) indexScan() string {
	return `SELECT k, v FROM ` + t.idx + ` WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3`
}

// scanChunks calls fn for the entries in [lo, hi), reading them a chunk
// at a time with read (one statement each, at most limit entries), and
// calling fn after each statement, so fn may query. With grow, each chunk
// after a full one is four times bigger, up to maxChunk.
func scanChunks(lo, hi []byte, grow bool, read func(lo, hi []byte, limit int) (ks, vs [][]byte, err error), fn func(k, v []byte) error) error {
	limit := indexChunk
	for {
		ks, vs, err := read(lo, hi, limit)
		if err != nil {
			return err
		}
		if err := callIndex(ks, vs, fn); err != nil {
			return err
		}
		if len(ks) < limit {
			return nil
		}
		lo = append(bytes.Clone(ks[len(ks)-1]), 0)
		if grow {
			limit = min(4*limit, maxChunk)
		}
	}
}

// collectIndex reads (k, v) rows and closes rows.
func collectIndex(rows pgx.Rows) (ks, vs [][]byte, err error) {
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, nil, err
		}
		ks, vs = append(ks, k), append(vs, v)
	}
	return ks, vs, rows.Err()
}

func callIndex(ks, vs [][]byte, fn func(k, v []byte) error) error {
	for i := range ks {
		if err := fn(ks[i], vs[i]); err != nil {
			return err
		}
	}
	return nil
}

// Index reads the entries in a statement of its own, so it sees every
// transaction that committed before it.
func (r *rtx) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	lo, hi := delta.IndexRange(prefix, after)
	return scanChunks(lo, hi, false, func(lo, hi []byte, limit int) ([][]byte, [][]byte, error) {
		rows, err := r.q.Query(r.ctx, r.s.t.indexScan(), lo, hi, limit)
		if err != nil {
			return nil, nil, err
		}
		return collectIndex(rows)
	}, fn)
}

// edgeTag is the first byte of delta's edge index keys: the tag and a
// node's ID are the prefix of all of the node's edges (delta.Adjacent).
var edgeTag = delta.EdgePrefix(anchor.ID{}, 0, "")[0]

// adjacencyOf reports whether prefix selects a node's whole adjacency,
// and whose.
func adjacencyOf(prefix []byte) (node anchor.ID, ok bool) {
	if len(prefix) != 1+len(node) || prefix[0] != edgeTag {
		return node, false
	}
	return anchor.ID(prefix[1:]), true
}

// Index reads entries (with the queued writes, in one round trip) as
// committed by every transaction that ended before the statement.
//
// A read of a node's whole adjacency (its edge entries: what a cascade
// delete reads, delta.Adjacent) first takes the node's exclusive lock,
// without waiting, in the same round trip, as Lock does; the edge index
// is the store's only adjacency, so this is what keeps an edge from being
// added to the node, by a connect that holds its shared lock, after the
// read and before this transaction commits (see wtx). A node with more
// edges than the transaction may still lock makes it escalate first
// (escalate.go). The edges listed are read, all at once, with the first
// read of one of them (Anchor).
func (w *wtx) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	lo, hi := delta.IndexRange(prefix, after)
	node, whole := adjacencyOf(prefix)
	if whole {
		next := fn
		fn = func(k, v []byte) error {
			w.list(k)
			return next(k, v)
		}
	}
	return scanChunks(lo, hi, whole, func(lo, hi []byte, limit int) (ks, vs [][]byte, err error) {
		b := w.take()
		if whole {
			w.escalateForEdges(b, prefix, node)
			w.exclusive(b, node)
		}
		b.Queue(w.s.t.indexScan(), lo, hi, limit).Query(func(rows pgx.Rows) error {
			ks, vs, err = collectIndex(rows)
			return err
		})
		if err := w.send(b); err != nil {
			return nil, nil, err
		}
		return ks, vs, err
	}, fn)
}

// PutIndex inserts k. A plain INSERT: when another transaction stored k
// (a unique value or create-once edge taken meanwhile), the statement
// waits for it and fails with unique_violation, which classify reports as
// backend.ErrRetry; the engine runs the write again and delta.Apply then
// sees the entry.
// Puts and deletes are buffered (writes.go) and sent as array statements,
// in order.
func (w *wtx) PutIndex(k, v []byte) error {
	w.buf.indexOp(false, k, v)
	return nil
}

func (w *wtx) DeleteIndex(k []byte) error {
	w.buf.indexOp(true, k, nil)
	return nil
}

// Lock takes id's exclusive lock with the next round trip, without waiting
// (see wtx): another transaction holding id fails this one with
// backend.ErrRetry.
func (w *wtx) Lock(id anchor.ID) error {
	w.exclusive(&w.pending, id)
	return nil
}

// list records the edge an entry of a node's adjacency names (its key
// ends with the edge's ID), unless the transaction read it already.
func (w *wtx) list(k []byte) {
	var id anchor.ID
	if len(k) < 1+2*len(id) {
		return // damaged: delta reports it
	}
	id = anchor.ID(k[len(k)-len(id):])
	if h, ok := w.held[id]; ok && h.read {
		return
	}
	if w.listed == nil {
		w.listed = make(map[anchor.ID]bool)
	}
	w.listed[id] = true
}

// prefetchListed reads (Prefetch) every listed edge not read yet.
func (w *wtx) prefetchListed() error {
	ids := make([]anchor.ID, 0, len(w.listed))
	for id := range w.listed {
		ids = append(ids, id)
	}
	w.listed = nil
	return w.Prefetch(ids)
}
