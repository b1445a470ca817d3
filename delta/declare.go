package delta

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/anchorage-db/anchorage/anchor"
)

// IndexedKey is the small value a store holds once every anchor it stored
// before it had secondary indexes has its entries (see Reindex).
const IndexedKey = "delta/indexed"

// Declare adds secondary indexes to the store's declaration (IndexesKey)
// and builds their entries from the anchors already stored, in the same
// transaction: from then on every write keeps them. Declaring what is
// declared is a no-op. It is refused with a *UniqueError when the stored
// anchors already break a unique index or a create-once edge type. Drop
// removes the listed indexes (and their entries) instead.
//
// Declare is the store owner's, not a walker's: the engine applies it
// like any write, without an access check.
type Declare struct {
	Indexes Indexes
	Drop    bool
}

func (d *Declare) validate() error { return d.Indexes.validate() }

func (d *Declare) apply(p *plan) error {
	p.stamp = 0 // stamps nothing
	ix, err := p.indexes()
	if err != nil {
		return err
	}
	next := Indexes{Fields: slices.Clone(ix.Fields), Once: slices.Clone(ix.Once)}
	var added Indexes
	for _, f := range d.Indexes.Fields {
		_, had := ix.field(f.Type, f.Field)
		switch {
		case d.Drop && had:
			next.Fields = slices.DeleteFunc(next.Fields, func(g FieldIndex) bool { return g.Type == f.Type && g.Field == f.Field })
			added.Fields = append(added.Fields, f)
		case !d.Drop && !had:
			next.Fields = append(next.Fields, f)
			added.Fields = append(added.Fields, f)
		}
	}
	for _, t := range d.Indexes.Once {
		switch had := ix.IsOnce(t); {
		case d.Drop && had:
			next.Once = slices.DeleteFunc(next.Once, func(s string) bool { return s == t })
			added.Once = append(added.Once, t)
		case !d.Drop && !had && !slices.Contains(added.Once, t):
			next.Once = append(next.Once, t)
			added.Once = append(added.Once, t)
		}
	}
	if added.Empty() {
		return nil
	}
	// Build (or remove) the entries of the changed indexes alone, for
	// every live anchor of their archetypes.
	types := map[string]bool{}
	for _, f := range added.Fields {
		types[f.Type] = true
	}
	for _, t := range added.Once {
		types[t] = true
	}
	var puts []claimed
	for _, typ := range slices.Sorted(maps.Keys(types)) {
		ids, err := p.ofType(typ)
		if err != nil {
			return err
		}
		for _, id := range ids {
			a, err := p.get(id)
			if err != nil {
				return err
			}
			if a == nil || !a.Live() {
				return fmt.Errorf("%w: archetype index of %s names %s, which is not a live anchor", anchor.ErrCorrupt, typ, id)
			}
			for _, e := range added.entries(a) {
				if e.k[0] == keyArchetype || e.k[0] == keyEdge {
					continue // kept for every anchor already
				}
				if d.Drop {
					p.ixDel = append(p.ixDel, delKey{e.k, true})
				} else {
					puts = append(puts, claimed{id, e})
				}
			}
		}
	}
	if err := p.claim(puts); err != nil {
		return err
	}
	raw, err := EncodeIndexes(next)
	if err != nil {
		return err
	}
	p.putMeta(IndexesKey, raw)
	return nil
}

// ofType lists the live anchors of archetype typ from the archetype index.
func (p *plan) ofType(typ string) ([]anchor.ID, error) {
	var ids []anchor.ID
	prefix := ArchetypePrefix(typ)
	err := p.tx.Index(prefix, nil, func(k, v []byte) error {
		if _, err := OpenEntry(k, v); err != nil {
			return err
		}
		id, err := anchor.IDFromBytes(k[len(prefix):])
		if err != nil {
			return fmt.Errorf("%w: archetype entry %x", anchor.ErrCorrupt, k)
		}
		ids = append(ids, id)
		return nil
	})
	return ids, err
}

// Reindex writes the entries of the anchors IDs as they are stored,
// replacing any that disagree: the engine runs it over every stored
// anchor, in chunks, when it first opens a store kept before secondary
// indexes existed (or when Verify found entries missing), then sets Done
// in the last chunk. Unique entries another anchor holds are left to it.
type Reindex struct {
	IDs  []anchor.ID
	Done bool
}

func (r *Reindex) validate() error { return nil }

func (r *Reindex) apply(p *plan) error {
	p.stamp = 0 // stamps nothing
	ix, err := p.indexes()
	if err != nil {
		return err
	}
	for _, id := range r.IDs {
		a, err := p.tx.Anchor(id)
		if errors.Is(err, anchor.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if a, err = p.indexed(ix, a); err != nil {
			return err
		}
		for _, e := range ix.entries(a) {
			stored, err := getEntry(p.tx, e.k)
			if err != nil {
				return err
			}
			if stored != nil {
				if v, err := OpenEntry(e.k, stored); err == nil && bytes.Equal(v, e.v) {
					continue
				}
				if unique(e.k) {
					if h, err := holder(e.k, stored); err == nil && h != id {
						continue
					}
				}
				p.ixDel = append(p.ixDel, delKey{e.k, true})
			}
			p.ixPut = append(p.ixPut, e)
		}
	}
	if r.Done {
		p.putMeta(IndexedKey, []byte{1})
	}
	return nil
}
