package delta

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
)

// OfType calls fn with each live anchor of archetype typ, in ID order
// (creation order for time-ordered IDs), and the cursor that resumes after
// it.
func OfType(r Reader, typ string, after []byte, fn func(id anchor.ID, cursor []byte) error) error {
	if err := anchor.ValidName("type", typ); err != nil {
		return err
	}
	prefix := ArchetypePrefix(typ)
	return r.Index(prefix, after, func(k, v []byte) error {
		if _, err := OpenEntry(k, v); err != nil {
			return err
		}
		id, err := anchor.IDFromBytes(k[len(prefix):])
		if err != nil {
			return fmt.Errorf("%w: archetype entry %x", anchor.ErrCorrupt, k)
		}
		return fn(id, k)
	})
}

// Lookup calls fn with each live anchor of archetype typ whose field holds
// value (msgpack bytes, as anchor.EncodeValue gives them; numbers match
// by value, whatever their Go type), through the
// declared index on (typ, field). It fails with anchor.ErrNoIndex when ix
// declares none.
func (ix *Indexes) Lookup(r Reader, typ, field string, value []byte, fn func(id anchor.ID) error) error {
	f, ok := ix.field(typ, field)
	if !ok {
		return fmt.Errorf("%w: %s.%s is not indexed", anchor.ErrNoIndex, typ, field)
	}
	value = indexValue(value)
	if f.Unique {
		k := UniqueKey(typ, field, value)
		stored, err := getEntry(r, k)
		if err != nil || stored == nil {
			return err
		}
		id, err := holder(k, stored)
		if err != nil {
			return err
		}
		return fn(id)
	}
	prefix := FieldPrefix(typ, field, value)
	return r.Index(prefix, nil, func(k, v []byte) error {
		if _, err := OpenEntry(k, v); err != nil {
			return err
		}
		if len(k) != len(prefix)+16 {
			return nil // a longer value that starts with this one's bytes
		}
		return fn(anchor.ID(k[len(prefix):]))
	})
}

// MetaReader is a Reader that also reads the store's small values, as a
// backend.View does.
type MetaReader interface {
	Reader
	MetaValue(key string) ([]byte, error)
}

// Declared returns the indexes the store r reads from declares.
func Declared(r MetaReader) (Indexes, error) {
	raw, err := r.MetaValue(IndexesKey)
	if err != nil {
		return Indexes{}, err
	}
	return DecodeIndexes(raw)
}

// Lookup is Indexes.Lookup through the indexes the store r reads from
// declares.
func Lookup(r MetaReader, typ, field string, value []byte, fn func(id anchor.ID) error) error {
	ix, err := Declared(r)
	if err != nil {
		return err
	}
	return ix.Lookup(r, typ, field, value, fn)
}

// IndexCheck compares a store's index entries with the ones its anchors
// imply (Verify): add every stored anchor, then Compare.
type IndexCheck struct {
	ix    Indexes
	want  map[string][]byte
	alts  map[string][][]byte      // unique keys with several holders (after merges): every holder
	lives map[anchor.ID]anchor.HLC // every node's life (Restored), for held edges
	other map[anchor.ID]bool       // every other anchor, for held edges
}

// NewIndexCheck starts a check of a store that declares ix.
func NewIndexCheck(ix Indexes) *IndexCheck {
	return &IndexCheck{ix: ix, want: make(map[string][]byte), alts: make(map[string][][]byte), lives: make(map[anchor.ID]anchor.HLC), other: make(map[anchor.ID]bool)}
}

// Add records the entries anchor a implies.
func (c *IndexCheck) Add(a *anchor.Anchor) {
	if a.Kind == anchor.KindNode {
		c.lives[a.ID] = a.Restored
	} else {
		c.other[a.ID] = true
	}
	for _, e := range c.ix.entries(a) {
		k := string(e.k)
		if old, dup := c.want[k]; dup && unique(e.k) {
			if c.alts[k] == nil {
				c.alts[k] = [][]byte{old}
			}
			c.alts[k] = append(c.alts[k], e.v)
			continue
		}
		c.want[k] = e.v
	}
}

// Compare scans every stored entry and reports each one that fails its
// checksum, is missing, is stale or disagrees with the anchors. A unique
// value two anchors hold (replicas that each took it, then merged) is
// reported too, once.
func (c *IndexCheck) Compare(r Reader, report func(key []byte, detail string)) error {
	err := r.Index(nil, nil, func(k, stored []byte) error {
		v, err := OpenEntry(k, stored)
		if err != nil {
			report(bytes.Clone(k), err.Error())
			delete(c.want, string(k))
			return nil
		}
		if k[0] == keyHeld { // a held edge (hold.go): implied by no anchor
			if detail := c.heldProblem(k, v); detail != "" {
				report(bytes.Clone(k), detail)
			}
			return nil
		}
		want, ok := c.want[string(k)]
		switch {
		case !ok:
			report(bytes.Clone(k), "stale entry: no live anchor implies it")
		case len(c.alts[string(k)]) > 0:
			report(bytes.Clone(k), fmt.Sprintf("unique value held by %d anchors", len(c.alts[string(k)])))
		case !bytes.Equal(v, want):
			report(bytes.Clone(k), fmt.Sprintf("entry holds %x, the anchors imply %x", v, want))
		}
		delete(c.want, string(k))
		return nil
	})
	if err != nil {
		return err
	}
	for k := range c.want {
		report([]byte(k), "missing entry")
	}
	return nil
}

// heldProblem says what is wrong with held edge entry (k, v), "" if
// nothing: it does not decode, or the endpoint it waits for is here in the
// life it waits for, or is here and no node (the merge that brought it
// missed it).
func (c *IndexCheck) heldProblem(k, v []byte) string {
	r, _, err := openHeld(k, v)
	if err != nil {
		return err.Error()
	}
	awaited := anchor.ID(k[1:17])
	if life, ok := c.lives[awaited]; (ok && epochOf(r, awaited) <= life) || c.other[awaited] {
		return fmt.Sprintf("held edge %s waits for %s, which is here", r.ID, awaited)
	}
	return ""
}

// isStop reports whether err is the early stop of an index read.
func isStop(err error) bool { return errors.Is(err, errStopScan) }
