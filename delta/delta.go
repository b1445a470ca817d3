package delta

import (
	"bytes"
	"slices"

	"github.com/anchorage-db/anchorage/anchor"
)

// Change is what one walker did to one anchor since it loaded it. Exactly
// one of Create, Delete, or (Set and/or Access) is meaningful:
//
//   - Create: the anchor is new; the whole anchor (header, fields, edge
//     endpoints) is written, and an edge's adjacency rows with it.
//   - Delete: the anchor is tombstoned; a node takes its incident edges with it.
//   - Set / Access: only these fields (and the access header) are written;
//     every other stored field is left as it is.
type Change struct {
	ID     anchor.ID
	Create *anchor.Anchor
	Delete bool
	// Set maps a field name to its new msgpack-encoded value.
	Set map[string][]byte
	// Base maps each name in Set to the field's stamp in the walker's
	// snapshot (0 if the field was absent). Used only in optimistic mode.
	Base map[string]anchor.HLC
	// Access, if non-nil, replaces the stored access grants.
	Access *anchor.Access
	// Remote, if non-nil, is another replica's whole state of the anchor,
	// merged by replication rules (see merge.go); the other fields are
	// then ignored.
	Remote *anchor.Anchor
}

// Empty reports whether c changes nothing.
func (c *Change) Empty() bool {
	return c.Create == nil && !c.Delete && len(c.Set) == 0 && c.Access == nil && c.Remote == nil
}

// Batch is the unit of writing: every change of one Put or Commit, applied
// atomically by Apply.
type Batch struct {
	// Root is the committing walker's root; access is checked against it.
	Root anchor.ID
	// Optimistic makes a field changed by someone else since the walker's
	// snapshot fail the batch with ErrConflict instead of being overwritten.
	Optimistic bool
	Changes    []Change

	// Replication (Remote changes; see merge.go).
	From      anchor.ID         // the replica the Remote changes come from
	Local     anchor.ID         // the replica of the store applying the batch
	MaxRemote anchor.HLC        // refuse remote anchors stamped later than this (0: no bound)
	Meta      map[string][]byte // small values written in the same transaction (import cursors)

	// Stamp is set by Apply when the batch lands: the HLC given to every
	// field, header and tombstone the batch wrote.
	Stamp anchor.HLC
	// Stats is set by Apply when the batch lands: what the merge did with
	// the Remote changes.
	Stats MergeStats
}

// Diff returns the change that turns snapshot (the anchor as the walker
// loaded it; nil if the walker created it) into current (the walker's copy;
// Deleted non-zero if the walker deleted it). ok is false when there is
// nothing to write.
//
// A field is written when its value differs from the snapshot, or when it
// is named in set: fields the walker explicitly set. Setting a field back
// to the value the walker loaded is a write too: someone else may have
// changed it meanwhile, and the later commit must win (or, in optimistic
// mode, conflict).
func Diff(snapshot, current *anchor.Anchor, set ...string) (c Change, ok bool) {
	switch {
	case current == nil:
		return c, false
	case snapshot == nil:
		if !current.Live() {
			return c, false // created and deleted before ever being stored
		}
		return Change{ID: current.ID, Create: current.Clone()}, true
	case !current.Live():
		return Change{ID: current.ID, Delete: true}, true
	}
	c.ID = current.ID
	for name, f := range current.Fields {
		old, had := snapshot.Fields[name]
		if had && bytes.Equal(old.Value, f.Value) && !slices.Contains(set, name) {
			continue
		}
		if c.Set == nil {
			c.Set = make(map[string][]byte)
			c.Base = make(map[string]anchor.HLC)
		}
		c.Set[name] = bytes.Clone(f.Value)
		c.Base[name] = old.Stamp
	}
	if !snapshot.Access.Equal(current.Access) {
		acc := current.Access.Clone()
		c.Access = &acc
	}
	return c, !c.Empty()
}
