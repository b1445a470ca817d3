package delta_test

import (
	"bytes"
	"slices"
	"testing"

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
