package delta

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/anchorage-db/anchorage/anchor"
)

// UniqueError reports a write refused because a unique index value, or a
// node's create-once edge, is taken. It wraps anchor.ErrUnique.
type UniqueError struct {
	Index  string    // "Type.field" for a unique field index, "once Type" for a create-once edge type
	Value  string    // the taken value, readable (for a create-once edge: the node's ID)
	Holder anchor.ID // the anchor that holds it
	ID     anchor.ID // the anchor that was refused
}

func (e *UniqueError) Error() string {
	return fmt.Sprintf("anchorage: unique value taken: %s %s is held by %s (refused for %s)", e.Index, e.Value, e.Holder, e.ID)
}

// Unwrap returns anchor.ErrUnique.
func (e *UniqueError) Unwrap() error { return anchor.ErrUnique }

// delKey is a planned index delete; force deletes a unique entry whatever
// anchor holds it (a merge taking it over).
type delKey struct {
	k     []byte
	force bool
}

// errStopScan ends an index scan early.
var errStopScan = errors.New("delta: scan stopped")

// indexes returns the store's declared indexes, read once per plan.
func (p *plan) indexes() (*Indexes, error) {
	if p.ix == nil {
		raw, err := p.tx.Meta(IndexesKey)
		if err != nil {
			return nil, err
		}
		ix, err := DecodeIndexes(raw)
		if err != nil {
			return nil, err
		}
		p.ix = &ix
	}
	return p.ix, nil
}

// remember records the index entries of a as stored, before the plan
// changes it: planIndex diffs them against the entries of what it writes.
// (An anchor a SharedReader read is remembered unchanged instead, and its
// entries worked out only if it is written: storedEntries.)
func (p *plan) remember(a *anchor.Anchor) error {
	ix, err := p.indexes()
	if err != nil {
		return err
	}
	if p.before == nil {
		p.before = make(map[anchor.ID][]entry)
	}
	if a, err = p.indexed(ix, a); err != nil {
		return err
	}
	p.before[a.ID] = ix.entries(a)
	return nil
}

// storedEntries returns the index entries of anchor id as stored (none for
// an anchor the plan creates).
func (p *plan) storedEntries(id anchor.ID) ([]entry, error) {
	if a, ok := p.stored.get(id); ok {
		if err := p.remember(a); err != nil {
			return nil, err
		}
		p.stored.del(id)
	}
	return p.before[id], nil
}

// planIndex turns the plan's dirty anchors into index puts and deletes,
// refusing (before anything is written) a walker's write that would take a
// unique value or create-once edge another anchor holds. A merge is not
// refused: the replicas must converge, so the later record takes the entry.
func (p *plan) planIndex() error {
	ix, err := p.indexes()
	if err != nil {
		return err
	}
	puts := make([]claimed, 0, 8) // most batches write a few entries
	for _, id := range p.dirty {
		old, err := p.storedEntries(id)
		if err != nil {
			return err
		}
		a, err := p.indexed(ix, p.cache.at(id))
		if err != nil {
			return err
		}
		cur := ix.entries(a)
		was := make(map[string][]byte, len(old))
		for _, e := range old {
			was[string(e.k)] = e.v
		}
		for _, e := range cur {
			if v, ok := was[string(e.k)]; ok {
				delete(was, string(e.k))
				if bytes.Equal(v, e.v) {
					continue
				}
				p.ixDel = append(p.ixDel, delKey{k: e.k}) // the same key with a new value: put anew
			}
			puts = append(puts, claimed{id, e})
		}
		for k := range was {
			if unique([]byte(k)) {
				if p.released == nil {
					p.released = make(map[string]bool)
				}
				p.released[k] = true
			}
			p.ixDel = append(p.ixDel, delKey{k: []byte(k)})
		}
	}
	return p.claim(puts)
}

// claimed is an index entry an anchor is to get.
type claimed struct {
	id anchor.ID
	e  entry
}

// claim plans puts, checking each unique entry against the store and the
// plan's other claims first.
func (p *plan) claim(puts []claimed) error {
	taken := make(map[string]anchor.ID)
	for _, c := range puts {
		if !unique(c.e.k) {
			p.ixPut = append(p.ixPut, c.e)
			continue
		}
		k := string(c.e.k)
		if other, dup := taken[k]; dup && other != c.id && p.remote.IsZero() {
			return p.uniqueError(c.e.k, other, c.id)
		}
		taken[k] = c.id
		stored, err := getEntry(p.tx, c.e.k)
		if err != nil {
			return err
		}
		if stored != nil {
			h, err := holder(c.e.k, stored)
			if err != nil {
				return err
			}
			if h == c.id {
				continue // held already (an entry older than the store's reindex)
			}
			if !p.released[k] {
				if p.remote.IsZero() {
					return p.uniqueError(c.e.k, h, c.id)
				}
				p.ixDel = append(p.ixDel, delKey{c.e.k, true}) // a merge takes the entry over
			}
		}
		p.ixPut = append(p.ixPut, c.e)
	}
	return nil
}

// putMeta plans a small value, written with the batch.
func (p *plan) putMeta(k string, v []byte) {
	if p.meta == nil {
		p.meta = make(map[string][]byte)
	}
	p.meta[k] = v
}

// flushIndex writes the planned index changes: deletes first, so a value
// moving between anchors of one batch lands on its new holder; each in key
// order, which B-trees insert cheaply (bbolt pays O(k^2) copying for k
// unsorted inserts into one node).
func (p *plan) flushIndex() error {
	slices.SortFunc(p.ixDel, func(a, b delKey) int { return bytes.Compare(a.k, b.k) })
	slices.SortFunc(p.ixPut, func(a, b entry) int { return bytes.Compare(a.k, b.k) })
	for _, d := range p.ixDel {
		if unique(d.k) && !d.force {
			if keep, err := p.heldByOther(d.k); err != nil {
				return err
			} else if keep {
				continue
			}
		}
		if err := p.tx.DeleteIndex(d.k); err != nil {
			return err
		}
	}
	for _, e := range p.ixPut {
		if err := p.tx.PutIndex(e.k, sealEntry(e.k, e.v)); err != nil {
			return err
		}
	}
	return nil
}

// heldByOther reports whether unique key k, which a dirty anchor gives up,
// is held by an anchor outside the plan's deletions (after a merge took it
// over), so deleting it would orphan that holder.
func (p *plan) heldByOther(k []byte) (bool, error) {
	stored, err := getEntry(p.tx, k)
	if err != nil || stored == nil {
		return false, err
	}
	h, err := holder(k, stored)
	if err != nil {
		return false, err
	}
	if !p.isDirty(h) {
		return true, nil
	}
	before, err := p.storedEntries(h)
	if err != nil {
		return false, err
	}
	for _, e := range before {
		if bytes.Equal(e.k, k) {
			return false, nil // its holder gives it up in this plan
		}
	}
	return true, nil
}

func (p *plan) uniqueError(k []byte, holder, id anchor.ID) error {
	e := &UniqueError{Holder: holder, ID: id}
	switch k[0] {
	case keyOnce:
		rest := k[17:]
		e.Index, e.Value = "once "+string(rest[:len(rest)-1]), anchor.ID(k[1:17]).String()
	default:
		parts := bytes.SplitN(k[1:], []byte{0}, 3)
		e.Index = string(parts[0]) + "." + string(parts[1])
		var v any
		if err := msgpack.Unmarshal(parts[2], &v); err == nil {
			e.Value = fmt.Sprint(v)
		} else {
			e.Value = fmt.Sprintf("%x", parts[2])
		}
	}
	return &anchor.Error{Op: "index", ID: id, Err: e}
}

// findOnce looks for o.Node's create-once edge of type o.Type; found says
// the batch is answered (p.found) and writes nothing.
func (p *plan) findOnce(o *Once) (found bool, err error) {
	ix, err := p.indexes()
	if err != nil {
		return false, err
	}
	if !ix.IsOnce(o.Type) {
		return false, &anchor.Error{Op: "find-or-create", ID: o.Node,
			Err: fmt.Errorf("%w: edge type %s is not declared create-once", anchor.ErrNoIndex, o.Type)}
	}
	k := OnceKey(o.Node, o.Type)
	stored, err := getEntry(p.tx, k)
	if err != nil || stored == nil {
		return false, err
	}
	id, err := holder(k, stored)
	if err != nil {
		return false, err
	}
	e, err := p.get(id)
	if err != nil {
		return false, err
	}
	if e == nil || !e.Live() || e.Kind != anchor.KindEdge || e.Source != o.Node {
		return false, fmt.Errorf("%w: create-once entry of %s (%s) names %s, not a live edge from it", anchor.ErrCorrupt, o.Node, o.Type, id)
	}
	p.found = anchor.Adj{Node: o.Node, Edge: id, Peer: e.Target, Dir: anchor.Out, Type: e.Type}
	return true, nil
}

// indexed returns a with the values of its indexed fields read (see
// ValueLoader), so that their entries can be computed.
func (p *plan) indexed(ix *Indexes, a *anchor.Anchor) (*anchor.Anchor, error) {
	if a == nil || len(ix.Fields) == 0 {
		return a, nil
	}
	return p.loaded(a, func(name string) bool {
		_, ok := ix.field(a.Type, name)
		return ok
	})
}
