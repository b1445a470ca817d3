package delta_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// FuzzApply decodes its input into a sequence of batches of random changes
// (creates of nodes, objects, walkers and edges between existing or unknown
// anchors, field sets, deletes, access changes, some of them malformed),
// committed as random roots (the system root among them), some in
// optimistic mode, and applies each with delta.Apply on an in-memory Tx.
// After every batch the Tx must hold exactly what an independent model of
// the merge rules (DESIGN.md, "Merge rules inside delta.Apply") holds, the
// adjacency index must agree with the live edges, and a batch the model
// rejects must be rejected with one of the errors the model names, having
// changed nothing.
//
// Search for new inputs with
//
//	go test -run='^$' -fuzz='^FuzzApply$' -fuzztime=10m ./delta/
func FuzzApply(f *testing.F) {
	for _, s := range [][]byte{
		{},
		// root A creates a node, then connects it to its own root.
		{0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x02, 0x03, 0x01, 0x00, 0x00},
		// system root: create, set, delete, access; optimistic as B.
		{0x18, 0x00, 0x00, 0x00, 0x00, 0x11, 0x01, 0x03, 0x03, 0x01, 0x02, 0x05, 0x03, 0x06, 0x02, 0x31, 0x03, 0x0e, 0x04, 0x03, 0x01, 0x01, 0x01},
		// an edge to an unknown anchor, then a create owned by someone else.
		{0x02, 0x02, 0x00, 0xff, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x08, 0x02},
		bytes.Repeat([]byte{0x29, 0x00, 0x00, 0x07, 0x02, 0x05, 0x01, 0x03, 0x04, 0x05, 0x02}, 6),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		h := newFuzzHarness(t)
		r := &byteReader{b: data}
		for i := 0; i < 32 && !r.done(); i++ {
			h.step(h.genBatch(r))
		}
	})
}

// byteReader hands out the fuzz input one byte at a time, then zeros.
type byteReader struct {
	b []byte
	i int
}

func (r *byteReader) next() byte {
	if r.i >= len(r.b) {
		r.i++
		return 0
	}
	r.i++
	return r.b[r.i-1]
}

func (r *byteReader) done() bool { return r.i >= len(r.b) }

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

// ---------------------------------------------------------------------------
// The harness: generates batches from bytes and checks every step.

type fuzzHarness struct {
	t     *testing.T
	tx    *memTx
	model *fmodel
	roots [4]anchor.ID // the system root and three user roots
	pool  []anchor.ID  // every ID a batch has named so far
	ids   uint32       // fresh IDs issued
	stamp anchor.HLC   // Apply calls so far (memTx stamps one per call)
	log   []string     // batches so far, for failure messages
}

func newFuzzHarness(t *testing.T) *fuzzHarness {
	h := &fuzzHarness{t: t, tx: newMemTx(), model: &fmodel{anchors: map[anchor.ID]*mAnchor{}}}
	for i := 1; i < 4; i++ {
		h.roots[i] = h.fresh()
	}
	// Three root nodes, created by the system root: A shares nothing, B lets
	// everyone read, C lets A connect and B write.
	a, b, c := h.roots[1], h.roots[2], h.roots[3]
	accs := []anchor.Access{{}, {All: anchor.Read}, {Roots: map[anchor.ID]anchor.Level{a: anchor.Connect, b: anchor.Write}}}
	batch := &delta.Batch{}
	for i, id := range []anchor.ID{a, b, c} {
		batch.Changes = append(batch.Changes, delta.Change{ID: id, Create: &anchor.Anchor{ID: id, Kind: anchor.KindNode, Owner: id, Type: "Root", Access: accs[i]}})
	}
	h.step(batch)
	return h
}

// fresh returns an ID no batch has named before.
func (h *fuzzHarness) fresh() anchor.ID {
	h.ids++
	id := anchor.ID{0xf0, 0, 0, 0, 0, 0, 0x40, 0, 0x80}
	id[12], id[13], id[14], id[15] = byte(h.ids>>24), byte(h.ids>>16), byte(h.ids>>8), byte(h.ids)
	h.pool = append(h.pool, id)
	return id
}

// pick returns an ID some batch named (0xff: one nobody has).
func (h *fuzzHarness) pick(r *byteReader) anchor.ID {
	x := r.next()
	if x == 0xff {
		return h.fresh()
	}
	return h.pool[int(x)%len(h.pool)]
}

func (h *fuzzHarness) genAccess(r *byteReader) anchor.Access {
	x := r.next()
	acc := anchor.Access{All: anchor.Level(x % 4)}
	if x&0x10 != 0 {
		acc.Roots = map[anchor.ID]anchor.Level{h.roots[(x>>5)%4]: anchor.Level(r.next() % 4)}
	}
	return acc
}

func (h *fuzzHarness) genFields(r *byteReader) map[string][]byte {
	n := int(r.next() % 4)
	if n == 0 {
		return nil
	}
	fs := map[string][]byte{}
	for range n {
		v, err := anchor.EncodeValue(int(r.next() % 4))
		if err != nil {
			h.t.Fatal(err)
		}
		fs[string(rune('a'+r.next()%3))] = v
	}
	return fs
}

func (h *fuzzHarness) owner(r *byteReader, root anchor.ID) anchor.ID {
	if x := r.next(); x%8 == 7 {
		return h.roots[(x>>3)%4] // usually someone else: denied unless the system root commits
	}
	return root
}

func (h *fuzzHarness) genBatch(r *byteReader) *delta.Batch {
	hdr := r.next()
	b := &delta.Batch{Root: h.roots[hdr%4], Optimistic: hdr&0x04 != 0}
	for range 1 + int(hdr>>3)%6 {
		b.Changes = append(b.Changes, h.genChange(r, b.Root))
	}
	return b
}

func (h *fuzzHarness) genChange(r *byteReader, root anchor.ID) delta.Change {
	op := r.next()
	switch op % 8 {
	case 0, 1: // create a node, object or walker (or something malformed)
		id := h.fresh()
		if op%8 == 1 && op&0x80 != 0 {
			id = h.pick(r) // probably exists already
		}
		kinds := []anchor.Kind{anchor.KindNode, anchor.KindNode, anchor.KindNode, anchor.KindNode,
			anchor.KindObject, anchor.KindWalker, 0, 9}
		a := &anchor.Anchor{ID: id, Kind: kinds[r.next()%8], Owner: h.owner(r, root), Type: "T", Access: h.genAccess(r)}
		for name, v := range h.genFields(r) {
			if a.Fields == nil {
				a.Fields = map[string]anchor.Field{}
			}
			a.Fields[name] = anchor.Field{Value: v, Stamp: 99} // stamps from the walker are ignored
		}
		cid := id
		if op&0x40 != 0 && op&0x20 != 0 {
			cid = h.pick(r) // change and anchor disagree
		}
		return delta.Change{ID: cid, Create: a}
	case 2: // create an edge
		x := r.next()
		a := &anchor.Anchor{ID: h.fresh(), Kind: anchor.KindEdge, Owner: h.owner(r, root), Type: "E" + string(rune('0'+x%3)),
			Source: h.pick(r), Target: h.pick(r), Undirected: x&0x08 != 0}
		if x&0x10 != 0 {
			v, _ := anchor.EncodeValue(int(x >> 5))
			a.Fields = map[string]anchor.Field{"w": {Value: v}}
		}
		return delta.Change{ID: a.ID, Create: a}
	case 3, 4: // set fields (optimistic bases: none, current, stale)
		id := h.pick(r)
		c := delta.Change{ID: id, Set: h.genFields(r)}
		if c.Set != nil {
			c.Base = map[string]anchor.HLC{}
			for name := range c.Set {
				var cur anchor.HLC
				if a := h.model.anchors[id]; a != nil {
					cur = a.fields[name].Stamp
				}
				switch r.next() % 3 {
				case 1:
					c.Base[name] = cur
				case 2:
					if cur > 0 {
						c.Base[name] = cur - 1
					}
				}
			}
		}
		return c
	case 5: // delete anything
		return delta.Change{ID: h.pick(r), Delete: true}
	case 6: // change access (and maybe fields)
		id := h.pick(r)
		acc := h.genAccess(r)
		c := delta.Change{ID: id, Grants: map[anchor.ID]anchor.Level{}, GrantBase: map[anchor.ID]anchor.HLC{}}
		if op&0x10 != 0 {
			c.Grants[anchor.SystemRoot] = acc.All
		}
		for root, lvl := range acc.Roots {
			c.Grants[root] = lvl
		}
		if len(c.Grants) == 0 {
			c.Grants[h.roots[1+int(op>>5)%3]] = acc.All
		}
		for key := range c.Grants {
			var cur anchor.HLC
			if a := h.model.anchors[id]; a != nil {
				cur = a.mark(key)
			}
			switch r.next() % 3 {
			case 1:
				c.GrantBase[key] = cur
			case 2:
				if cur > 0 {
					c.GrantBase[key] = cur - 1
				}
			}
		}
		if op&0x80 != 0 {
			c.Set = h.genFields(r)
		}
		return c
	default: // disconnect: delete a live edge if there is one
		var edges []anchor.ID
		for id, a := range h.model.anchors {
			if a.kind == anchor.KindEdge && a.deleted == 0 {
				edges = append(edges, id)
			}
		}
		if len(edges) == 0 {
			return delta.Change{ID: h.pick(r), Delete: true}
		}
		slices.SortFunc(edges, func(a, b anchor.ID) int { return bytes.Compare(a[:], b[:]) })
		return delta.Change{ID: edges[int(r.next())%len(edges)], Delete: true}
	}
}

// txState is a byte-exact copy of a memTx's contents.
type txState struct {
	anchors map[anchor.ID][]byte
	adj     map[[2]anchor.ID]anchor.Adj
	log     map[anchor.ID]uint64
	seq     uint64
}

func (t *memTx) state() txState {
	s := txState{anchors: map[anchor.ID][]byte{}, adj: t.adj(), log: maps.Clone(t.log), seq: t.seq}
	for id, b := range t.anchors {
		s.anchors[id] = bytes.Clone(b)
	}
	return s
}

func (s txState) equal(o txState) bool {
	return s.seq == o.seq && maps.Equal(s.adj, o.adj) && maps.Equal(s.log, o.log) &&
		maps.EqualFunc(s.anchors, o.anchors, bytes.Equal)
}

// step applies b to the Tx and to the model and checks they agree.
func (h *fuzzHarness) step(b *delta.Batch) {
	t := h.t
	t.Helper()
	h.stamp++
	h.log = append(h.log, describe(b))
	next, dirty, rej := h.model.apply(b, h.stamp)
	before := h.tx.state()
	res, err := delta.Apply(h.tx, delta.Env{Stamp: h.stamp}, b)

	if rej != nil {
		if err == nil {
			h.fail("Apply accepted a batch the model rejects with %v", rej)
		}
		if !matches(err, rej) {
			h.fail("Apply rejected the batch with %v; the model expects one of %v", err, rej)
		}
		if !h.tx.state().equal(before) {
			h.fail("a rejected batch (%v) changed the Tx", err)
		}
		if res.Stamp != 0 {
			h.fail("a rejected batch got stamp %v", res.Stamp)
		}
		return
	}
	if err != nil {
		h.fail("Apply rejected a batch the model accepts: %v", err)
	}
	if res.Stamp != h.stamp {
		h.fail("batch stamp %v, want %v", res.Stamp, h.stamp)
	}
	h.model = next

	// The log: exactly the anchors this batch wrote got new sequence numbers.
	for id, seq := range h.tx.log {
		if seq > before.seq && !dirty[id] {
			h.fail("anchor %s was logged but the batch did not change it", id)
		}
	}
	for id := range dirty {
		if h.tx.log[id] <= before.seq {
			h.fail("anchor %s changed but was not logged", id)
		}
	}
	h.compare()
	h.checkAdjacency()
}

func matches(err error, rej []rejection) bool {
	var ae *anchor.Error
	if !errors.As(err, &ae) {
		return false
	}
	for _, r := range rej {
		ok := ae.ID == r.id
		for _, s := range r.errs {
			ok = ok && errors.Is(err, s)
		}
		if ok {
			return true
		}
	}
	return false
}

// compare checks the Tx holds exactly the model's anchors, field by field,
// and exactly the adjacency rows the model's live edges imply.
func (h *fuzzHarness) compare() {
	if len(h.tx.anchors) != len(h.model.anchors) {
		h.fail("Tx holds %d anchors, the model %d", len(h.tx.anchors), len(h.model.anchors))
	}
	for id, m := range h.model.anchors {
		a, err := h.tx.Anchor(id)
		if err != nil {
			h.fail("anchor %s: %v", id, err)
		}
		var d []string
		chk := func(ok bool, what string, got, want any) {
			if !ok {
				d = append(d, fmt.Sprintf("%s %v, want %v", what, got, want))
			}
		}
		chk(a.Kind == m.kind, "kind", a.Kind, m.kind)
		chk(a.Owner == m.owner, "owner", a.Owner, m.owner)
		chk(a.Type == m.typ, "type", a.Type, m.typ)
		chk(sameAccess(a.Access, m.access), "access", a.Access, m.access)
		chk(a.Created == m.created, "created", a.Created, m.created)
		chk(a.Updated == m.updated, "updated", a.Updated, m.updated)
		chk(a.Deleted == m.deleted, "deleted", a.Deleted, m.deleted)
		for _, key := range append([]anchor.ID{anchor.SystemRoot}, slices.Collect(maps.Keys(a.Access.Roots))...) {
			chk(delta.MarkOf(a, key).At == m.mark(key), "access mark "+short(key), delta.MarkOf(a, key).At, m.mark(key))
		}
		chk(a.Source == m.src && a.Target == m.dst && a.Undirected == m.undirected, "endpoints",
			fmt.Sprint(a.Source, a.Target, a.Undirected), fmt.Sprint(m.src, m.dst, m.undirected))
		chk(len(a.Fields) == len(m.fields), "field count", len(a.Fields), len(m.fields))
		for name, f := range m.fields {
			g := a.Fields[name]
			chk(bytes.Equal(g.Value, f.Value) && g.Stamp == f.Stamp && g.Origin == f.Origin, "field "+name,
				fmt.Sprintf("%x@%d/%s", g.Value, g.Stamp, g.Origin), fmt.Sprintf("%x@%d/%s", f.Value, f.Stamp, f.Origin))
		}
		if d != nil {
			h.fail("anchor %s differs from the model: %s", id, strings.Join(d, "; "))
		}
	}
	want := h.model.adjRows()
	if !maps.Equal(h.tx.adj(), want) {
		h.fail("adjacency differs from the model's live edges:\n Tx    %v\n model %v", h.tx.adj(), want)
	}
}

// checkAdjacency checks the Tx's own consistency, model aside: every row
// belongs to a live edge between live nodes, and every live edge has its rows.
func (h *fuzzHarness) checkAdjacency() {
	for k, row := range h.tx.adj() {
		e, err := h.tx.Anchor(k[1])
		if err != nil || e.Kind != anchor.KindEdge || !e.Live() {
			h.fail("adjacency row %v has no live edge (%v)", row, err)
		}
		if row.Node != k[0] || row.Edge != k[1] || (row.Node != e.Source && row.Node != e.Target) {
			h.fail("adjacency row %v does not match its key or edge %v", row, e)
		}
	}
	for id, b := range h.tx.anchors {
		e, err := anchor.Unmarshal(id, b)
		if err != nil {
			h.fail("stored record %s: %v", id, err)
		}
		if e.Kind != anchor.KindEdge || !e.Live() {
			continue
		}
		for _, end := range []anchor.ID{e.Source, e.Target} {
			n, err := h.tx.Anchor(end)
			if err != nil || !n.Live() || n.Kind != anchor.KindNode {
				h.fail("live edge %s has endpoint %s that is not a live node (%v)", id, end, err)
			}
			if _, ok := h.tx.adj()[[2]anchor.ID{end, id}]; !ok {
				h.fail("live edge %s lacks its adjacency row on %s", id, end)
			}
		}
	}
}

func (h *fuzzHarness) fail(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("batch %d: %s\nbatches so far:\n  %s", len(h.log), fmt.Sprintf(format, args...), strings.Join(h.log, "\n  "))
}

func describe(b *delta.Batch) string {
	var parts []string
	for _, c := range b.Changes {
		switch {
		case c.Create != nil:
			a := c.Create
			s := fmt.Sprintf("create %s %s owner=%s access=%v fields=%v", a.Kind, short(c.ID), short(a.Owner), a.Access, sortedKeys(a.Fields))
			if a.ID != c.ID {
				s += " carrying " + short(a.ID)
			}
			if a.Kind == anchor.KindEdge {
				s += fmt.Sprintf(" %s->%s undirected=%v", short(a.Source), short(a.Target), a.Undirected)
			}
			parts = append(parts, s)
		case c.Delete:
			parts = append(parts, "delete "+short(c.ID))
		default:
			s := fmt.Sprintf("update %s set=%v base=%v", short(c.ID), c.Set, c.Base)
			if c.Grants != nil {
				s += fmt.Sprintf(" grants=%v base=%v", c.Grants, c.GrantBase)
			}
			parts = append(parts, s)
		}
	}
	return fmt.Sprintf("root=%s optimistic=%v: %s", short(b.Root), b.Optimistic, strings.Join(parts, "; "))
}

func short(id anchor.ID) string {
	if id == (anchor.ID{}) {
		return "system"
	}
	return fmt.Sprintf("#%d", int(id[14])<<8|int(id[15]))
}

func sortedKeys[V any](m map[string]V) []string {
	ks := slices.Collect(maps.Keys(m))
	sort.Strings(ks)
	return ks
}

// TestDiffSameMapValue pins a bug (fixed in 0f39752): anchor.EncodeValue
// did not sort map keys (anchor's TestEncodeValueDeterministic), so setting
// a map-valued field to the value it already held yielded other bytes;
// Diff saw a change and Apply re-stamped and re-logged the field, though
// DESIGN.md says nothing unchanged is re-stamped or re-logged.
func TestDiffSameMapValue(t *testing.T) {
	v := map[string]any{"a": 1, "b": 2, "c": 3, "d": 4}
	snap := node(anchor.NewID(), map[string]any{"prefs": v})
	tx := newMemTx()
	require.NoError(t, tx.apply(&delta.Batch{Changes: []delta.Change{create(snap)}}))
	seq := tx.seq
	for range 20 {
		cur := snap.Clone()
		require.NoError(t, cur.SetField("prefs", v))
		if c, ok := delta.Diff(snap, cur, nil); ok {
			t.Errorf("setting field prefs to the value it holds diffs to a change: %x", c.Set["prefs"])
		}
		b, err := anchor.EncodeValue(v)
		require.NoError(t, err)
		require.NoError(t, tx.apply(&delta.Batch{Changes: []delta.Change{{ID: snap.ID, Set: map[string][]byte{"prefs": b}}}}))
		if tx.seq != seq {
			t.Fatalf("writing the value prefs already holds re-stamped and re-logged it (log sequence %d -> %d)", seq, tx.seq)
		}
	}
}
