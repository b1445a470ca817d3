package bolt

import (
	"bytes"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// Field values of anchor.OutOfLine bytes or more live in the values bucket
// (schema 4), one row per field keyed by the anchor's ID followed by the
// field's name; the anchor's record holds a reference (size, CRC-32C,
// stamp, origin) in its place. A write transaction's Anchor returns the
// references, so a Set of another field or a Connect to the node neither
// reads nor rewrites a large value; a View reads and checks every value.

func valueKey(id anchor.ID, name string) []byte {
	return append(append(make([]byte, 0, len(id)+len(name)), id[:]...), name...)
}

// FieldValue reads the value of field name of anchor id kept out of line,
// checked against the reference in id's record.
func (t *rtx) FieldValue(id anchor.ID, name string) ([]byte, error) {
	a, err := t.Anchor(id)
	if err != nil {
		return nil, err
	}
	v, ref, err := a.StoredField(name)
	if err != nil || ref == nil {
		return v, err
	}
	return t.value(id, name, *ref)
}

// value reads one out-of-line value and checks it against ref.
func (t *rtx) value(id anchor.ID, name string, ref anchor.Ref) (v []byte, err error) {
	err = t.write("read value", func() error {
		if b := t.open(bValues); b != nil {
			v = bytes.Clone(b.Get(valueKey(id, name)))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, &anchor.Error{Op: "read", ID: id, Field: name, Err: fmt.Errorf("%w: out-of-line value missing", anchor.ErrCorrupt)}
	}
	if err := ref.Check(v); err != nil {
		return nil, &anchor.Error{Op: "read", ID: id, Field: name, Err: err}
	}
	return v, nil
}

// loadValues replaces a's references with the values they stand for.
func (t *rtx) loadValues(a *anchor.Anchor) (*anchor.Anchor, error) {
	for name, f := range a.Fields {
		if f.Ref == nil {
			continue
		}
		v, err := t.value(a.ID, name, *f.Ref)
		if err != nil {
			return nil, err
		}
		a.Fields[name] = anchor.Field{Value: v, Stamp: f.Stamp, Origin: f.Origin}
	}
	return a, nil
}

// putValues writes values (new out-of-line values of head) and removes
// the rows of id that head no longer refers to. Run it under write.
func (t *rtx) putValues(head *anchor.Anchor, values map[string][]byte) error {
	for name, v := range values {
		if err := t.open(bValues).Put(valueKey(head.ID, name), v); err != nil {
			return err
		}
	}
	return t.dropValues(head.ID, func(name string) bool {
		f, ok := head.Fields[name]
		return ok && f.Ref != nil
	})
}

// dropValues deletes id's value rows except those keep (nil: none) keeps.
// Run it under write.
func (t *rtx) dropValues(id anchor.ID, keep func(name string) bool) error {
	values := t.open(bValues)
	if values == nil {
		return nil
	}
	var drop [][]byte
	c := values.Cursor()
	for k, _ := c.Seek(id[:]); k != nil && bytes.HasPrefix(k, id[:]); k, _ = c.Next() {
		if keep == nil || !keep(string(k[len(id):])) {
			drop = append(drop, bytes.Clone(k))
		}
	}
	for _, k := range drop {
		if err := values.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// checkValues reports every value row no record refers to. (A referenced
// value that is missing or damaged is found when Verify reads the anchor.)
func (t *rtx) checkValues(report func(kind string, id anchor.ID, detail string)) error {
	return t.scan("scan values", bValues, nil, nil, func(k, v []byte) error {
		if len(k) < len(anchor.ID{}) {
			report(backend.ProblemCorrupt, anchor.ID{}, fmt.Sprintf("out-of-line value key %x is too short", k))
			return nil
		}
		id, _ := anchor.IDFromBytes(k[:len(anchor.ID{})])
		name := string(k[len(id):])
		a, err := t.Anchor(id)
		if err != nil {
			if anchor.IsNotFound(err) {
				report(backend.ProblemValueOrphan, id, fmt.Sprintf("value of field %q (%d bytes) without its anchor", name, len(v)))
			}
			return nil // a damaged record is reported by the anchor scan
		}
		if f, ok := a.Fields[name]; !ok || f.Ref == nil {
			report(backend.ProblemValueOrphan, id, fmt.Sprintf("value of field %q (%d bytes) the record does not refer to", name, len(v)))
		}
		return nil
	})
}
