package delta

import (
	"bytes"

	"github.com/anchorage-db/anchorage/anchor"
)

// Write is what Apply applies in one go: a walker's *Batch or a
// replication *Merge. The two are separate types, so a walker's batch can
// never carry another replica's state, nor a merge skip what a walker
// would be checked for.
type Write interface {
	apply(p *plan) error
	validate() error
}

// Change is what one walker did to one anchor since it loaded it. Exactly
// one of Create, Delete, Restore, or (Set and/or Grants) is meaningful:
//
//   - Create: the anchor is new; the whole anchor (header, fields, access,
//     edge endpoints) is written, and its index entries with it (an
//     edge's are its adjacency rows).
//   - Delete: the anchor is tombstoned; a node takes its incident edges
//     with it. Deleting what is already deleted is a no-op.
//   - Restore: the tombstoned node, walker or object lives again under its
//     ID, stamped as restored (see restore.go); its fields and access are
//     those it had when deleted. Edges its deletion took stay deleted.
//     Restoring what is live is a no-op.
//   - Set / Grants: only these fields and these access entries are
//     written; every other stored field and entry is left as it is.
type Change struct {
	ID      anchor.ID
	Create  *anchor.Anchor
	Delete  bool
	Restore bool
	// Set maps a field name to its new msgpack-encoded value.
	Set map[string][]byte
	// Base maps each name in Set to the field's stamp in the walker's
	// snapshot (0 if the field was absent). Used only in optimistic mode.
	Base map[string]anchor.HLC
	// Grants maps an access entry to its new level: the key
	// anchor.SystemRoot stands for Access.All, any other key for that
	// root's per-root grant (anchor.NoAccess revokes). Only the owner (or
	// the system root) may change access.
	Grants map[anchor.ID]anchor.Level
	// GrantBase maps each key of Grants to the entry's stamp in the
	// walker's snapshot. Used only in optimistic mode.
	GrantBase map[anchor.ID]anchor.HLC
}

// Empty reports whether c changes nothing.
func (c *Change) Empty() bool {
	return c.Create == nil && !c.Delete && !c.Restore && len(c.Set) == 0 && len(c.Grants) == 0
}

// Batch is a walker's unit of writing: every change of one Put or Commit,
// applied atomically by Apply, with access checked as Root.
type Batch struct {
	// Root is the committing walker's root; access is checked against it.
	// The zero ID (anchor.SystemRoot) passes every check.
	Root anchor.ID
	// Optimistic makes a field or access entry changed by someone else
	// since the walker's snapshot fail the batch with ErrConflict instead
	// of being overwritten.
	Optimistic bool
	Changes    []Change
	// Once makes the batch a find-or-create: if Once.Node already has a
	// live outgoing edge of type Once.Type (a type the store declares
	// create-once, see Indexes), nothing of the batch is written and
	// Result.Found is that edge's row; otherwise the batch is applied as
	// usual (it should create that edge). Checked and applied in one
	// write transaction, so of many walkers racing to create the edge
	// exactly one does and every other finds it.
	Once *Once
	// Checks are reads the walker asks to validate (ReadCheck): if one
	// changed since the walker read it, the batch fails with
	// anchor.ErrConflict and writes nothing.
	Checks []ReadCheck
}

// Once names the create-once edge a find-or-create batch looks for.
type Once struct {
	Node anchor.ID
	Type string
}

// Result is what Apply reports about a write that landed.
type Result struct {
	// Stamp is the HLC given to every field, header, access entry and
	// tombstone the write stamped; 0 for a write that stamps nothing
	// (Declare, Reindex).
	Stamp anchor.HLC
	// Stats says what a Merge did with each remote anchor (empty for a
	// Batch).
	Stats MergeStats
	// Found is the existing edge's row (from Batch.Once.Node) when a
	// find-or-create batch found one and wrote nothing; zero otherwise.
	Found anchor.Adj
}

// Env is what the engine hands Apply besides the transaction.
type Env struct {
	// Stamp is the HLC for this write, greater than every stamp the store
	// issued or observed before.
	Stamp anchor.HLC
	// Replica is the applying store's replica ID (breaks merge ties).
	Replica anchor.ID
	// Limits bound the write's sizes (zero: the defaults).
	Limits Limits
	// Validated says the caller already ran Validate on the write (the
	// engine does, before queueing it), so Apply skips it in the
	// transaction.
	Validated bool
}

// Diff returns the change that turns snapshot (the anchor as the walker
// loaded it; nil if the walker created it) into current (the walker's copy;
// Deleted non-zero if the walker deleted it). ok is false when there is
// nothing to write.
//
// A field is written when its value differs from the snapshot, or when it
// is in set: fields the walker explicitly set. Setting a field back to the
// value the walker loaded is a write too: someone else may have changed it
// meanwhile, and the later commit must win (or, in optimistic mode,
// conflict). Access is diffed per entry the same way: only the entries
// whose level differs from the snapshot are sent.
func Diff(snapshot, current *anchor.Anchor, set map[string]bool) (c Change, ok bool) {
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
		if had && bytes.Equal(old.Value, f.Value) && !set[name] {
			continue
		}
		if c.Set == nil {
			c.Set = make(map[string][]byte)
			c.Base = make(map[string]anchor.HLC)
		}
		c.Set[name] = bytes.Clone(f.Value)
		c.Base[name] = old.Stamp
	}
	grant := func(key anchor.ID, lvl anchor.Level) {
		if old, had := snapshot.Access.Entry(key); had && old == lvl {
			return
		}
		if c.Grants == nil {
			c.Grants = make(map[anchor.ID]anchor.Level)
			c.GrantBase = make(map[anchor.ID]anchor.HLC)
		}
		c.Grants[key] = lvl
		c.GrantBase[key] = MarkOf(snapshot, key).At
	}
	grant(anchor.SystemRoot, current.Access.All)
	for root, lvl := range current.Access.Roots {
		grant(root, lvl)
	}
	return c, !c.Empty()
}

// MarkOf returns the mark of a's access entry key (anchor.SystemRoot:
// Access.All); an entry without one was set by the write that created a.
func MarkOf(a *anchor.Anchor, key anchor.ID) anchor.Mark {
	if m, ok := a.AccessStamps[key]; ok {
		return m
	}
	return anchor.Mark{At: a.Created}
}
