package delta

import (
	"bytes"
	"maps"
	"slices"

	"github.com/anchorage-db/anchorage/anchor"
)

// adjacent returns node's adjacency rows as they stand in this batch.
func (p *plan) adjacent(node anchor.ID) ([]anchor.Adj, error) {
	var rows []anchor.Adj
	err := p.tx.Adjacent(node, func(r anchor.Adj) error {
		if _, planned := p.adj[adjKey{node, r.Edge}]; !planned {
			rows = append(rows, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, r := range p.adj {
		if k.node == node && r != nil {
			rows = append(rows, *r)
		}
	}
	return rows, nil
}

// flush writes the plan in key order: anchors by ID, adjacency rows by
// (node, edge). B-tree stores insert sorted keys cheaply (bbolt, which
// splits pages only at commit, pays O(k^2) copying for k unsorted inserts
// into a small tree), and the order does not change what is written.
func (p *plan) flush() error {
	slices.SortFunc(p.dirty, func(a, b anchor.ID) int { return bytes.Compare(a[:], b[:]) })
	keys := slices.SortedFunc(maps.Keys(p.adj), func(a, b adjKey) int {
		if c := bytes.Compare(a.node[:], b.node[:]); c != 0 {
			return c
		}
		return bytes.Compare(a.edge[:], b.edge[:])
	})
	for _, id := range p.dirty {
		if err := p.tx.PutAnchor(p.cache[id]); err != nil {
			return err
		}
		if err := p.tx.Logged(id); err != nil {
			return err
		}
	}
	for _, k := range keys {
		r := p.adj[k]
		var err error
		if r == nil {
			err = p.tx.DeleteAdj(k.node, k.edge)
		} else {
			err = p.tx.PutAdj(*r)
		}
		if err != nil {
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
