package tiered

import (
	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// reads is what a walker with Options.ValidateReads has read since its
// last write: each anchor's stamp as loaded, and each listing of a node's
// edges (the raw rows, before access filtering).
type reads struct {
	anchors map[anchor.ID]anchor.HLC
	lists   map[listKey]*delta.ListCheck
}

type listKey struct {
	node anchor.ID
	dir  anchor.Direction
	typ  string
}

// readAnchor records that the walker read a as stored.
func (m *Memory) readAnchor(a *anchor.Anchor) {
	if !m.opts.ValidateReads {
		return
	}
	if m.reads.anchors == nil {
		m.reads.anchors = make(map[anchor.ID]anchor.HLC)
	}
	m.reads.anchors[a.ID] = a.Updated // a later read (after Forget) is what the walker acts on
}

// readList records the rows of one page of a listing: a listing from the
// start replaces what an earlier one of the same query recorded; a page
// after a cursor extends it. complete says the listing reached its end.
func (m *Memory) readList(node anchor.ID, q delta.EdgeQuery, edges []anchor.ID, complete bool) {
	if !m.opts.ValidateReads {
		return
	}
	if m.reads.lists == nil {
		m.reads.lists = make(map[listKey]*delta.ListCheck)
	}
	k := listKey{node, q.Dir, q.Type}
	l := m.reads.lists[k]
	if l == nil || q.After == nil {
		l = &delta.ListCheck{Node: node, Query: delta.EdgeQuery{Dir: q.Dir, Type: q.Type}}
		m.reads.lists[k] = l
	}
	l.Edges = append(l.Edges, edges...)
	l.Complete = complete
}

// readChecks returns the checks a write of this walker carries.
func (m *Memory) readChecks() []delta.ReadCheck {
	var cs []delta.ReadCheck
	for id, at := range m.reads.anchors {
		cs = append(cs, delta.ReadCheck{ID: id, Updated: at})
	}
	for _, l := range m.reads.lists {
		cs = append(cs, delta.ReadCheck{List: l})
	}
	return cs
}
