package delta_test

import (
	"bytes"
	"fmt"
	"maps"
	"strings"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// ---------------------------------------------------------------------------
// The model: plain maps, written from the merge rules, sharing no code with
// delta.Apply.

type mAnchor struct {
	kind                      anchor.Kind
	owner                     anchor.ID
	access                    anchor.Access
	typ                       string
	created, updated, deleted anchor.HLC
	marks                     map[anchor.ID]anchor.HLC // access entry -> stamp (absent: created)
	src, dst                  anchor.ID
	undirected                bool
	fields                    map[string]anchor.Field
}

func (a *mAnchor) mark(key anchor.ID) anchor.HLC {
	if m, ok := a.marks[key]; ok {
		return m
	}
	return a.created
}

func (a *mAnchor) clone() *mAnchor {
	c := *a
	c.access = copyAccess(a.access)
	c.fields = maps.Clone(a.fields)
	c.marks = maps.Clone(a.marks)
	return &c
}

func copyAccess(a anchor.Access) anchor.Access {
	c := anchor.Access{All: a.All}
	if len(a.Roots) > 0 {
		c.Roots = maps.Clone(a.Roots)
	}
	return c
}

func sameAccess(a, b anchor.Access) bool {
	if a.All != b.All || len(a.Roots) != len(b.Roots) {
		return false
	}
	for k, v := range a.Roots {
		if w, ok := b.Roots[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// may: the owner and the system root may do anything; another root gets its
// own grant if it has one, else the grant to all.
func (a *mAnchor) may(root anchor.ID, need anchor.Level) bool {
	if root == (anchor.ID{}) || root == a.owner {
		return true
	}
	lvl, ok := a.access.Roots[root]
	if !ok {
		lvl = a.access.All
	}
	return lvl >= need
}

type fmodel struct {
	anchors map[anchor.ID]*mAnchor
}

func (m *fmodel) clone() *fmodel {
	c := &fmodel{anchors: make(map[anchor.ID]*mAnchor, len(m.anchors))}
	for id, a := range m.anchors {
		c.anchors[id] = a.clone()
	}
	return c
}

// adjRows is the adjacency index the live edges imply: one row per endpoint
// (one in all for a self-loop), keyed by (node, edge).
func (m *fmodel) adjRows() map[[2]anchor.ID]anchor.Adj {
	rows := map[[2]anchor.ID]anchor.Adj{}
	for id, e := range m.anchors {
		if e.kind != anchor.KindEdge || e.deleted != 0 {
			continue
		}
		out, in := anchor.Out, anchor.In
		if e.undirected {
			out, in = anchor.Both, anchor.Both
		}
		rows[[2]anchor.ID{e.src, id}] = anchor.Adj{Node: e.src, Edge: id, Peer: e.dst, Dir: out, Type: e.typ}
		if e.dst != e.src {
			rows[[2]anchor.ID{e.dst, id}] = anchor.Adj{Node: e.dst, Edge: id, Peer: e.src, Dir: in, Type: e.typ}
		}
	}
	return rows
}

// rejection is one acceptable way for Apply to refuse a batch: an
// *anchor.Error naming id and wrapping every one of errs.
type rejection struct {
	id   anchor.ID
	errs []error
}

func (r rejection) String() string {
	var names []string
	for _, e := range r.errs {
		names = append(names, e.Error())
	}
	return fmt.Sprintf("%s on %s", strings.Join(names, " + "), r.id)
}

// apply runs batch b with stamp s through the model. On success it returns
// the new state and the anchors the batch wrote; on rejection, the ways the
// first failing change (in phase order) may be reported.
func (m *fmodel) apply(b *delta.Batch, s anchor.HLC) (*fmodel, map[anchor.ID]bool, []rejection) {
	w := m.clone()
	dirty := map[anchor.ID]bool{}
	root := b.Root
	touch := func(id anchor.ID, a *mAnchor) {
		a.updated = s
		dirty[id] = true
	}
	bury := func(id anchor.ID, a *mAnchor) {
		a.deleted = s
		touch(id, a)
	}
	// Phases: creates of non-edges, creates of edges, updates, deletes;
	// batch order within a phase.
	phase := func(c *delta.Change) int {
		switch {
		case c.Create != nil && c.Create.Kind == anchor.KindEdge:
			return 1
		case c.Create != nil:
			return 0
		case c.Delete:
			return 3
		}
		return 2
	}
	for p := range 4 {
		for i := range b.Changes {
			c := &b.Changes[i]
			if phase(c) != p {
				continue
			}
			var rej []rejection
			no := func(id anchor.ID, errs ...error) { rej = append(rej, rejection{id, errs}) }
			switch p {
			case 0, 1:
				n := c.Create
				if n.ID != c.ID {
					no(c.ID, anchor.ErrIntegrity)
				}
				if n.Kind < anchor.KindNode || n.Kind > anchor.KindObject {
					no(n.ID, anchor.ErrIntegrity)
				}
				if root != (anchor.ID{}) && n.Owner != root {
					no(n.ID, anchor.ErrAccessDenied)
				}
				if w.anchors[n.ID] != nil {
					no(n.ID, anchor.ErrExists)
				}
				if p == 1 {
					for _, end := range []anchor.ID{n.Source, n.Target} {
						e := w.anchors[end]
						switch {
						case e == nil:
							no(end, anchor.ErrIntegrity, anchor.ErrNotFound)
						case e.deleted != 0:
							no(end, anchor.ErrIntegrity, anchor.ErrDeleted)
						case e.kind != anchor.KindNode:
							no(end, anchor.ErrIntegrity)
						case !e.may(root, anchor.Connect):
							no(end, anchor.ErrAccessDenied)
						}
					}
				}
				if rej != nil {
					return nil, nil, rej
				}
				a := &mAnchor{kind: n.Kind, owner: n.Owner, access: copyAccess(n.Access), typ: n.Type,
					created: s, fields: map[string]anchor.Field{}}
				for name, f := range n.Fields {
					a.fields[name] = anchor.Field{Value: bytes.Clone(f.Value), Stamp: s}
				}
				if n.Kind == anchor.KindEdge {
					a.src, a.dst, a.undirected = n.Source, n.Target, n.Undirected
				}
				w.anchors[n.ID] = a
				touch(n.ID, a)
			case 2:
				if len(c.Set) == 0 && len(c.Grants) == 0 {
					continue
				}
				a := w.anchors[c.ID]
				switch {
				case a == nil:
					return nil, nil, []rejection{{c.ID, []error{anchor.ErrNotFound}}}
				case a.deleted != 0:
					return nil, nil, []rejection{{c.ID, []error{anchor.ErrDeleted}}}
				case len(c.Set) > 0 && !a.may(root, anchor.Write):
					return nil, nil, []rejection{{c.ID, []error{anchor.ErrAccessDenied}}}
				case len(c.Grants) > 0 && root != (anchor.ID{}) && root != a.owner:
					// Only the owner (or the system root) changes access.
					return nil, nil, []rejection{{c.ID, []error{anchor.ErrAccessDenied}}}
				}
				if b.Optimistic {
					for name := range c.Set {
						if a.fields[name].Stamp > c.Base[name] {
							no(c.ID, anchor.ErrConflict)
						}
					}
					for key := range c.Grants {
						if a.mark(key) > c.GrantBase[key] {
							no(c.ID, anchor.ErrConflict)
						}
					}
					if rej != nil {
						return nil, nil, rej
					}
				}
				changed := false
				for name, v := range c.Set {
					if old, had := a.fields[name]; had && bytes.Equal(old.Value, v) {
						continue
					}
					a.fields[name] = anchor.Field{Value: bytes.Clone(v), Stamp: s}
					changed = true
				}
				for key, lvl := range c.Grants {
					old, had := a.access.All, true
					if key != (anchor.ID{}) {
						old, had = a.access.Roots[key]
					}
					if had && old == lvl {
						continue
					}
					if key == (anchor.ID{}) {
						a.access.All = lvl
					} else {
						if a.access.Roots == nil {
							a.access.Roots = map[anchor.ID]anchor.Level{}
						}
						a.access.Roots[key] = lvl
					}
					if a.marks == nil {
						a.marks = map[anchor.ID]anchor.HLC{}
					}
					a.marks[key] = s
					changed = true
				}
				if changed {
					touch(c.ID, a)
				}
			case 3:
				a := w.anchors[c.ID]
				switch {
				case a == nil:
					return nil, nil, []rejection{{c.ID, []error{anchor.ErrNotFound}}}
				case a.deleted != 0:
					continue // already deleted (by this batch or before): the outcome asked for
				}
				if a.kind == anchor.KindEdge {
					for _, end := range []anchor.ID{a.src, a.dst} {
						if e := w.anchors[end]; e != nil && e.deleted == 0 && !e.may(root, anchor.Connect) {
							no(end, anchor.ErrAccessDenied)
						}
					}
					if rej != nil {
						return nil, nil, rej
					}
					bury(c.ID, a)
					continue
				}
				if !a.may(root, anchor.Write) {
					return nil, nil, []rejection{{c.ID, []error{anchor.ErrAccessDenied}}}
				}
				if a.kind == anchor.KindNode {
					for id, e := range w.anchors {
						if e.kind == anchor.KindEdge && e.deleted == 0 && (e.src == c.ID || e.dst == c.ID) {
							bury(id, e)
						}
					}
				}
				bury(c.ID, a)
			}
		}
	}
	return w, dirty, nil
}
