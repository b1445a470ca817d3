package delta

import (
	"bytes"
	"slices"

	"github.com/anchorage-db/anchorage/anchor"
)

// adjacent returns node's adjacency rows as they stand in this batch: the
// stored edge index, with the rows this batch has planned (its index
// entries are written only at flush) in place of the stored ones.
func (p *plan) adjacent(node anchor.ID) ([]anchor.Adj, error) {
	var rows []anchor.Adj
	err := Adjacent(p.tx, node, func(r anchor.Adj) error {
		if _, planned := p.adj.get(adjKey{node, r.Edge}); !planned {
			rows = append(rows, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, r := range p.adj.all() {
		if k.node == node && r.live {
			rows = append(rows, r.row)
		}
	}
	return rows, nil
}

// flush writes the plan in key order: anchors by ID, then index entries
// (flushIndex) by key. B-tree stores insert sorted keys cheaply (bbolt,
// which splits pages only at commit, pays O(k^2) copying for k unsorted
// inserts into a small tree), and the order does not change what is
// written. Adjacency has no rows of its own: the edge index entries are
// the adjacency.
func (p *plan) flush() error {
	slices.SortFunc(p.dirty, func(a, b anchor.ID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range p.dirty {
		if err := p.tx.PutAnchor(p.cache.at(id)); err != nil {
			return err
		}
		if err := p.tx.Logged(id); err != nil {
			return err
		}
	}
	return p.flushIndex()
}

// WriteError reports that the transaction failed while Apply was writing a
// batch that had passed its checks. The transaction must be rolled back.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "anchorage: write failed: " + e.Err.Error() }

// Unwrap returns the transaction's error.
func (e *WriteError) Unwrap() error { return e.Err }
