package delta

import (
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
)

// Validate checks w for input no backend may store (anchor.ErrInvalid) and
// for sizes over l (anchor.ErrTooLarge), without a transaction: the engine
// calls it before queueing w, so a bad write is refused alone, the same on
// every backend.
func Validate(w Write, l Limits) error {
	if err := w.validate(); err != nil {
		return err
	}
	return checkLimits(w, l)
}

func (b *Batch) validate() error {
	if b.Once != nil {
		if err := anchor.ValidName("type", b.Once.Type); err != nil {
			return &anchor.Error{Op: "validate", ID: b.Once.Node, Err: err}
		}
	}
	for i := range b.Changes {
		if err := b.Changes[i].validate(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Change) validate() error {
	bad := func(field string, err error) error {
		return &anchor.Error{Op: "validate", ID: c.ID, Field: field, Err: err}
	}
	roles := 0
	for _, set := range []bool{c.Create != nil, c.Delete, c.Restore, len(c.Set) > 0 || len(c.Grants) > 0} {
		if set {
			roles++
		}
	}
	if roles > 1 {
		return bad("", fmt.Errorf("%w: a change is a create, a delete, a restore or an update, not several", anchor.ErrInvalid))
	}
	if c.Create != nil {
		if err := validAnchor(c.Create); err != nil {
			return bad("", err)
		}
	}
	for name := range c.Set {
		if err := anchor.ValidName("field", name); err != nil {
			return bad(name, err)
		}
	}
	for _, lvl := range c.Grants {
		if lvl > anchor.Write {
			return bad("", fmt.Errorf("%w: unknown access level %d", anchor.ErrInvalid, uint8(lvl)))
		}
	}
	return nil
}

// validAnchor checks what a stored anchor's names and levels may hold.
func validAnchor(a *anchor.Anchor) error {
	if a.ID.IsZero() {
		return fmt.Errorf("%w: an anchor with the zero ID (the system root's)", anchor.ErrInvalid)
	}
	if err := anchor.ValidName("type", a.Type); err != nil {
		return err
	}
	for name, f := range a.Fields {
		if err := anchor.ValidName("field", name); err != nil {
			return err
		}
		if f.Ref != nil {
			// A reference names a value a store keeps out of line; a
			// write brings the value itself.
			return fmt.Errorf("%w: field %q comes as a reference to a value kept out of line, not as its value", anchor.ErrInvalid, name)
		}
	}
	if a.Access.All > anchor.Write {
		return fmt.Errorf("%w: unknown access level %d", anchor.ErrInvalid, uint8(a.Access.All))
	}
	for _, lvl := range a.Access.Roots {
		if lvl > anchor.Write {
			return fmt.Errorf("%w: unknown access level %d", anchor.ErrInvalid, uint8(lvl))
		}
	}
	return nil
}

// Reads lists the anchors Apply will read first for w: each changed or
// merged anchor and a new edge's endpoints (a node delete reads its edges
// too, found only then). The engine hands the list of a whole group to the
// driver, which may fetch them in one round trip.
func Reads(w Write) []anchor.ID {
	var ids []anchor.ID
	add := func(a *anchor.Anchor) {
		if a != nil && a.Kind == anchor.KindEdge {
			ids = append(ids, a.Source, a.Target)
		}
	}
	switch w := w.(type) {
	case *Batch:
		for i := range w.Changes {
			ids = append(ids, w.Changes[i].ID)
			add(w.Changes[i].Create)
		}
	case *Merge:
		for _, a := range w.Anchors {
			if a != nil {
				ids = append(ids, a.ID)
				add(a)
			}
		}
	}
	return ids
}
