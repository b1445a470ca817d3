package delta

import (
	"bytes"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
)

// ValueLoader is implemented by a Tx whose Anchor may return fields whose
// values are kept out of line and were not read (anchor.Field.Ref set,
// Value nil). Apply reads such a value only when it needs it (a Set that
// may change it, a merge or an index of that field), and otherwise writes
// the field back as it got it, which the Tx's PutAnchor keeps as stored.
// So a small change to an anchor holding a large value costs what it
// would without it.
type ValueLoader interface {
	// FieldValue returns the value of field name of anchor id, as this
	// transaction sees it, checked against the reference its Anchor
	// returned (damage: an error wrapping anchor.ErrCorrupt). The driver
	// checks the value's checksum; Apply checks its size.
	FieldValue(id anchor.ID, name string) ([]byte, error)
}

// value returns the value of f, field name of a, reading it through the
// Tx when it was not loaded.
func (p *plan) value(a *anchor.Anchor, name string, f anchor.Field) ([]byte, error) {
	if f.Ref == nil {
		return f.Value, nil
	}
	l, ok := p.tx.(ValueLoader)
	if !ok {
		return nil, p.fail("read", a.ID, name, fmt.Errorf("%w: field value kept out of line and the transaction cannot read it", anchor.ErrCorrupt))
	}
	v, err := l.FieldValue(a.ID, name)
	if err != nil {
		return nil, err
	}
	if int64(len(v)) != f.Ref.Size {
		return nil, p.fail("read", a.ID, name, fmt.Errorf("%w: out-of-line value of %d bytes, the record says %d", anchor.ErrCorrupt, len(v), f.Ref.Size))
	}
	return v, nil
}

// sameValue reports whether stored field f (name of a) holds v, reading
// it only when the sizes agree.
func (p *plan) sameValue(a *anchor.Anchor, name string, f anchor.Field, v []byte) (bool, error) {
	if f.Ref != nil && f.Ref.Size != int64(len(v)) {
		return false, nil
	}
	sv, err := p.value(a, name, f)
	if err != nil {
		return false, err
	}
	return bytes.Equal(sv, v), nil
}

// loaded returns a with the named fields' values read (all of them for
// nil names); a itself is left as it is when nothing needed reading, else
// a shallow copy is returned.
func (p *plan) loaded(a *anchor.Anchor, names func(string) bool) (*anchor.Anchor, error) {
	if a == nil || !a.Unloaded() {
		return a, nil
	}
	var c *anchor.Anchor
	for name, f := range a.Fields {
		if f.Ref == nil || (names != nil && !names(name)) {
			continue
		}
		v, err := p.value(a, name, f)
		if err != nil {
			return nil, err
		}
		if c == nil {
			cc := *a
			cc.Fields = make(map[string]anchor.Field, len(a.Fields))
			for k, g := range a.Fields {
				cc.Fields[k] = g
			}
			c = &cc
		}
		c.Fields[name] = anchor.Field{Value: v, Stamp: f.Stamp, Origin: f.Origin}
	}
	if c == nil {
		return a, nil
	}
	return c, nil
}
