package anchor

import (
	"bytes"
	"fmt"
	"sort"
)

// Field is one named value of an anchor's archetype: the msgpack encoding of
// the value, the HLC of the write that set it, and the replica that wrote
// it (zero: this store's own replica). Merges happen per field; between
// replicas the greater (Stamp, Origin) wins.
type Field struct {
	Value  []byte `msgpack:"v"`
	Stamp  HLC    `msgpack:"s"`
	Origin ID     `msgpack:"o,omitempty"`
	// Ref is set, and Value nil, for a value a store keeps out of line
	// and did not read (see Ref); never set in what a View returns.
	Ref *Ref `msgpack:"-"`
}

// Mark names the write that set a value: its HLC stamp and the replica that
// made it (zero: the store's own replica). Between replicas the greater
// (At, Origin) wins.
type Mark struct {
	At     HLC
	Origin ID
}

// Anchor is one persisted graph object: a node, edge, walker or object.
//
// An Anchor value is plain data, not safe for concurrent mutation. Stores
// hand out copies the caller owns; a walker's memory (tiered.Memory.Get)
// hands out read-only views it shares, which must not be modified (Clone
// one to get a copy to change).
type Anchor struct {
	ID     ID
	Kind   Kind
	Owner  ID     // the root that owns the anchor; it always has Write
	Access Access // what other roots may do
	Type   string // archetype name, e.g. "Profile" or "Follows"

	Created HLC // stamp of the write that created the anchor
	Updated HLC // stamp of the latest write that changed it
	Deleted HLC // tombstone stamp; zero while live

	// Restored is the stamp of the latest restore (undelete) of a node,
	// walker or object; zero if it was never restored. A restore starts a
	// new life of the anchor: between replicas the later restore wins over
	// everything an earlier life did to the anchor's liveness.
	Restored HLC

	// SourceEpoch and TargetEpoch, for edges only: the Restored stamps of
	// the endpoints when the edge was created (which life of each
	// endpoint the edge belongs to). They never change after creation.
	SourceEpoch HLC
	TargetEpoch HLC

	// AccessStamps records which write set each access entry, so grants
	// merge per entry like fields: the key SystemRoot (the zero ID) stands
	// for Access.All, any other key for Access.Roots[key]. An entry without
	// a mark was set when the anchor was created.
	AccessStamps map[ID]Mark

	// Endpoints, for edges only. They never change after creation.
	Source     ID
	Target     ID
	Undirected bool

	Fields map[string]Field
}

// StoredField returns field name of a as a store read it: its value when
// the value is held inline, or the reference to a value kept out of line
// (value nil). A missing field is an *Error wrapping ErrNoField.
func (a *Anchor) StoredField(name string) (value []byte, ref *Ref, err error) {
	f, ok := a.Fields[name]
	if !ok {
		return nil, nil, &Error{Op: "read", ID: a.ID, Field: name, Err: ErrNoField}
	}
	return f.Value, f.Ref, nil
}

// Live reports whether the anchor is not a tombstone.
func (a *Anchor) Live() bool { return a.Deleted == 0 }

// Clone returns a deep copy of a.
func (a *Anchor) Clone() *Anchor {
	c := *a
	c.Access = a.Access.Clone()
	if a.AccessStamps != nil {
		c.AccessStamps = make(map[ID]Mark, len(a.AccessStamps))
		for k, m := range a.AccessStamps {
			c.AccessStamps[k] = m
		}
	}
	if a.Fields != nil {
		c.Fields = make(map[string]Field, len(a.Fields))
		for k, f := range a.Fields {
			c.Fields[k] = Field{Value: bytes.Clone(f.Value), Stamp: f.Stamp, Origin: f.Origin, Ref: f.Ref}
		}
	}
	return &c
}

// FieldNames returns the names of a's fields in sorted order.
func (a *Anchor) FieldNames() []string {
	names := make([]string, 0, len(a.Fields))
	for k := range a.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Field decodes the named field into v (a pointer). A missing field yields
// ErrNoField; a value that does not decode into v's type yields ErrFieldType;
// both come wrapped in an *Error naming anchor and field.
func (a *Anchor) Field(name string, v any) error {
	f, ok := a.Fields[name]
	if !ok {
		return &Error{Op: "field", ID: a.ID, Field: name, Err: ErrNoField}
	}
	if err := DecodeValue(f.Value, v); err != nil {
		return &Error{Op: "field", ID: a.ID, Field: name, Err: err}
	}
	return nil
}

// SetField encodes v and stores it as the named field with a zero stamp (the
// store stamps it when the change is applied).
func (a *Anchor) SetField(name string, v any) error {
	b, err := EncodeValue(v)
	if err != nil {
		return &Error{Op: "set", ID: a.ID, Field: name, Err: err}
	}
	if a.Fields == nil {
		a.Fields = make(map[string]Field)
	}
	old := a.Fields[name]
	a.Fields[name] = Field{Value: b, Stamp: old.Stamp, Origin: old.Origin}
	return nil
}

// AccessStamp returns the greatest stamp of any access entry (zero if access
// never changed after creation).
func (a *Anchor) AccessStamp() HLC {
	var m HLC
	for _, s := range a.AccessStamps {
		m = max(m, s.At)
	}
	return m
}

// Level returns the level root holds on a by its access entries alone:
// its per-root grant if it has one, else Access.All. (Allows adds the
// owner's and the system root's standing rights.)
func (a *Access) Level(root ID) Level {
	if l, ok := a.Roots[root]; ok {
		return l
	}
	return a.All
}

// Entry returns the access entry keyed as in Anchor.AccessStamps: the
// level of Access.All for SystemRoot, else root's per-root grant. ok is
// false when root has no per-root grant.
func (a *Access) Entry(key ID) (lvl Level, ok bool) {
	if key.IsZero() {
		return a.All, true
	}
	lvl, ok = a.Roots[key]
	return lvl, ok
}

// SetEntry sets the access entry keyed as in Anchor.AccessStamps.
func (a *Access) SetEntry(key ID, lvl Level) {
	if key.IsZero() {
		a.All = lvl
		return
	}
	if a.Roots == nil {
		a.Roots = make(map[ID]Level)
	}
	a.Roots[key] = lvl
}

// Allows reports whether root may act on a at level need. The system root
// and the owner always may; anyone else gets the per-root grant if there is
// one, else Access.All.
func (a *Anchor) Allows(root ID, need Level) bool {
	if need == NoAccess || root.IsZero() || root == a.Owner {
		return true
	}
	return a.Access.Level(root) >= need
}

// Adjacency returns the adjacency rows an edge anchor induces: one on each
// endpoint (a self-loop yields one row).
func (a *Anchor) Adjacency() []Adj {
	src, dst := Out, In
	if a.Undirected {
		src, dst = Both, Both
	}
	rows := []Adj{{Node: a.Source, Edge: a.ID, Peer: a.Target, Dir: src, Type: a.Type}}
	if a.Target != a.Source {
		rows = append(rows, Adj{Node: a.Target, Edge: a.ID, Peer: a.Source, Dir: dst, Type: a.Type})
	}
	return rows
}

func (a *Anchor) String() string {
	return fmt.Sprintf("%s %s(%s)", a.Kind, a.Type, a.ID)
}
