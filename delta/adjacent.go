package delta

import "github.com/anchorage-db/anchorage/anchor"

// Adjacent calls fn for every edge of node, one row per end of the edge
// that is node, as the edge index holds it: grouped by direction, then by
// edge type, each group in creation order (Edges merges the groups into
// one creation order). No access is checked: a walker lists through
// tiered, which checks Read. The index is the store's only adjacency: a
// node's edges are found under its edge entries and nowhere else, so this
// is also what a cascade delete reads.
func Adjacent(r Reader, node anchor.ID, fn func(anchor.Adj) error) error {
	return adjacency(r, append([]byte{keyEdge}, node[:]...), fn)
}

// Adjacency calls fn for every adjacency row of the store (every end of
// every live edge), in node order.
func Adjacency(r Reader, fn func(anchor.Adj) error) error {
	return adjacency(r, []byte{keyEdge}, fn)
}

func adjacency(r Reader, prefix []byte, fn func(anchor.Adj) error) error {
	var last string
	return r.Index(prefix, nil, func(k, stored []byte) error {
		v, err := OpenEntry(k, stored)
		if err != nil {
			return err
		}
		row, _, _, err := decodeEdge(k, v, last)
		if err != nil {
			return err
		}
		last = row.Type
		return fn(row)
	})
}
