package delta

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/anchorage-db/anchorage/anchor"
)

// Apply is the only function that writes anchors. The engine (package
// backend) calls it inside one write transaction for each Write of a group:
// a walker's *Batch or a replication *Merge. For a Batch it
//
//  1. re-reads the stored state of every anchor it touches,
//  2. checks access against that stored state with b.Root,
//  3. checks integrity (edge endpoints exist, are live nodes; a deleted
//     node takes its incident edges with it),
//  4. merges only what the walker changed (fields it set, access entries
//     it changed, edges it added or removed), stamping them with
//     env.Stamp,
//  5. writes the result, its index entries (an edge's are its adjacency)
//     and the change-log entries.
//
// A Merge is merged by the replication rules described on Merge.
//
// Apply is atomic with respect to tx: it plans every write in memory first
// and touches tx only once every check has passed, so a write that fails a
// check returns a typed error (an *anchor.Error) and writes nothing. An
// error from tx while writing is returned as a *WriteError: the transaction
// is then half-written and the caller must roll all of it back.
//
// Changes are applied in phases, whatever their order in the batch: creates
// of non-edge anchors, creates of edges, field and access updates, edge
// and deletes. So a batch may create two nodes and the edge between them in
// any order, and may delete a node and disconnect one of its edges.
func Apply(tx Tx, env Env, w Write) (Result, error) {
	if !env.Validated {
		if err := Validate(w, env.Limits); err != nil {
			return Result{}, err
		}
	}
	p := &plan{tx: tx, stamp: env.Stamp, local: env.Replica, maxFields: env.Limits.WithDefaults().MaxFields}
	p.dirty, p.ixPut = p.dirtyBuf[:0], p.ixPutBuf[:0]
	if err := w.apply(p); err != nil {
		return Result{}, err
	}
	if err := p.planIndex(); err != nil {
		return Result{}, err
	}
	if err := p.flush(); err != nil {
		return Result{}, &WriteError{Err: err}
	}
	for _, k := range metaKeys(p.meta) {
		if err := tx.PutMeta(k, p.meta[k]); err != nil {
			return Result{}, &WriteError{Err: err}
		}
	}
	return Result{Stamp: p.stamp, Stats: p.stats, Found: p.found}, nil
}

func (b *Batch) apply(p *plan) error {
	p.root, p.optimistic = b.Root, b.Optimistic
	if err := p.checkReads(b.Checks); err != nil {
		return err
	}
	if b.Once != nil {
		if found, err := p.findOnce(b.Once); err != nil || found {
			return err
		}
	}
	for phase := range phaseCount {
		for i := range b.Changes {
			c := &b.Changes[i]
			if c.phase() != phase {
				continue
			}
			if err := p.change(c); err != nil {
				return err
			}
		}
	}
	if len(p.arrived) > 0 {
		return p.releaseHeld() // a restore: edges held for the node (hold.go)
	}
	return nil
}

const (
	phaseCreate = iota
	phaseCreateEdge
	phaseUpdate
	phaseDelete
	phaseCount
)

// phase orders changes so that what a change depends on comes first.
func (c *Change) phase() int {
	switch {
	case c.Create != nil && c.Create.Kind == anchor.KindEdge:
		return phaseCreateEdge
	case c.Create != nil, c.Restore:
		return phaseCreate
	case c.Delete:
		return phaseDelete
	default:
		return phaseUpdate
	}
}

type adjKey struct{ node, edge anchor.ID }

// plannedRow is an adjacency row a batch plans: live is false for a row
// it removes.
type plannedRow struct {
	row  anchor.Adj
	live bool
}

// plan accumulates the writes of one batch. Reads go through it, so later
// changes see earlier ones.
type plan struct {
	tx         Tx
	root       anchor.ID
	optimistic bool
	stamp      anchor.HLC

	maxFields     int        // Limits.MaxFields: fields an anchor may hold
	remote, local anchor.ID  // replicas, for a Merge
	maxRemote     anchor.HLC // bound on remote stamps (0: none)
	stats         MergeStats
	meta          map[string][]byte // a Merge's small values, written last
	arrived       []arrival         // nodes a Merge brought, whose held edges it looks at (hold.go)
	heldPut       map[string]bool   // held-edge entries planned (hold.go)
	once          writeOnce         // the store's write-once types (writeonce.go)

	cache    smallMap[anchor.ID, *anchor.Anchor] // anchors read or written, copies
	dirty    []anchor.ID                         // anchors to write, in first-dirtied order
	dirtyBuf [8]anchor.ID                        // dirty's first array: most batches write a few anchors
	isDir    map[anchor.ID]bool                  // the set of dirty, once it outgrows dirtyBuf (isDirty)
	adj      smallMap[adjKey, plannedRow]        // planned rows

	ix       *Indexes                            // the store's declared indexes (index.go)
	before   map[anchor.ID][]entry               // index entries of anchors as stored (storedEntries)
	stored   smallMap[anchor.ID, *anchor.Anchor] // anchors as a SharedReader stored them, not to be modified
	ixPut    []entry                             // planned index entries
	ixPutBuf [8]entry                            // ixPut's first array
	ixDel    []delKey                            // planned index deletes
	released map[string]bool                     // unique keys dirty anchors give up
	found    anchor.Adj                          // what Batch.Once found
}

func (p *plan) fail(op string, id anchor.ID, field string, err error) error {
	return &anchor.Error{Op: op, ID: id, Field: field, Err: err}
}

func (p *plan) markDirty(a *anchor.Anchor) { p.markDirtyAt(a, p.stamp) }

// markDirtyAt queues a for writing with Updated = stamp.
func (p *plan) markDirtyAt(a *anchor.Anchor, stamp anchor.HLC) {
	a.Updated = stamp
	if p.isDirty(a.ID) {
		return
	}
	p.dirty = append(p.dirty, a.ID)
	switch {
	case p.isDir != nil:
		p.isDir[a.ID] = true
	case len(p.dirty) > len(p.dirtyBuf):
		// Past a few anchors, a set beats searching the list.
		p.isDir = make(map[anchor.ID]bool, len(p.dirty))
		for _, id := range p.dirty {
			p.isDir[id] = true
		}
	}
}

// isDirty reports whether anchor id is queued for writing.
func (p *plan) isDirty(id anchor.ID) bool {
	if p.isDir != nil {
		return p.isDir[id]
	}
	return slices.Contains(p.dirty, id)
}

func (p *plan) need(op string, a *anchor.Anchor, lvl anchor.Level) error {
	if a.Allows(p.root, lvl) {
		return nil
	}
	return &anchor.Error{Op: op, ID: a.ID, Need: lvl, Root: p.root, Err: anchor.ErrAccessDenied}
}

func (p *plan) change(c *Change) error {
	switch {
	case c.Create != nil:
		return p.create(c)
	case c.Delete:
		return p.delete(c.ID)
	case c.Restore:
		return p.restore(c.ID)
	default:
		return p.update(c)
	}
}

func (p *plan) create(c *Change) error {
	n := c.Create.Clone()
	switch {
	case n.ID != c.ID:
		return p.fail("create", c.ID, "", fmt.Errorf("%w: change for %s carries anchor %s", anchor.ErrIntegrity, c.ID, n.ID))
	case !n.Kind.Valid():
		return p.fail("create", n.ID, "", fmt.Errorf("%w: unknown kind %d", anchor.ErrIntegrity, uint8(n.Kind)))
	case n.Kind == anchor.KindEdge && (n.Source.IsZero() || n.Target.IsZero()):
		return p.fail("create", n.ID, "", fmt.Errorf("%w: edge without both endpoints", anchor.ErrIntegrity))
	case !p.root.IsZero() && n.Owner != p.root:
		// Only the system root may create anchors on another root's behalf.
		return &anchor.Error{Op: "create", ID: n.ID, Need: anchor.Write, Root: p.root,
			Err: fmt.Errorf("%w: cannot create an anchor owned by %s", anchor.ErrAccessDenied, n.Owner)}
	}
	old, err := p.get(n.ID)
	if err != nil {
		return err
	}
	if old != nil {
		return p.fail("create", n.ID, "", anchor.ErrExists)
	}
	if n.Kind == anchor.KindEdge {
		for _, end := range []anchor.ID{n.Source, n.Target} {
			node, err := p.livePeek("connect", end) // only checked, never changed here
			if err != nil {
				return p.dangling(n.ID, end, err)
			}
			if node.Kind != anchor.KindNode {
				return p.fail("connect", end, "", fmt.Errorf("%w: edge %s endpoint is a %s, not a node", anchor.ErrIntegrity, n.ID, node.Kind))
			}
			if err := p.need("connect", node, anchor.Connect); err != nil {
				return err
			}
		}
		for _, row := range n.Adjacency() {
			p.adj.set(adjKey{row.Node, row.Edge}, plannedRow{row, true})
		}
	} else {
		n.Source, n.Target, n.Undirected = anchor.ID{}, anchor.ID{}, false
	}
	n.Created, n.Deleted, n.AccessStamps = p.stamp, 0, nil // unmarked entries date from Created
	p.setEpochs(n)
	for name, f := range n.Fields {
		n.Fields[name] = anchor.Field{Value: f.Value, Stamp: p.stamp}
	}
	p.cache.set(n.ID, n)
	p.markDirty(n)
	return nil
}

// dangling turns a missing or deleted endpoint into an integrity error that
// still matches ErrNotFound / ErrDeleted.
func (p *plan) dangling(edge, end anchor.ID, err error) error {
	if anchor.IsNotFound(err) {
		return p.fail("connect", end, "", fmt.Errorf("%w: edge %s endpoint: %w", anchor.ErrIntegrity, edge, errors.Unwrap(err)))
	}
	return err
}

func (p *plan) update(c *Change) error {
	if len(c.Set) == 0 && len(c.Grants) == 0 {
		return nil
	}
	a, err := p.live("set", c.ID)
	if err != nil {
		return err
	}
	if len(c.Set) > 0 {
		if err := p.need("set", a, anchor.Write); err != nil {
			return err
		}
		if err := p.refuseWriteOnce("set", a); err != nil {
			return err
		}
	}
	if len(c.Grants) > 0 && !p.root.IsZero() && p.root != a.Owner {
		// Access is the owner's: a Write grantee may change fields and
		// delete, but not hand out (or take away) access.
		return &anchor.Error{Op: "grant", ID: a.ID, Need: anchor.Own, Root: p.root,
			Err: fmt.Errorf("%w: only the owner %s may change access", anchor.ErrAccessDenied, a.Owner)}
	}
	changed := false
	for name, v := range c.Set {
		stored, had := a.Fields[name]
		// Someone else wrote the field after the walker's snapshot exactly
		// when its stamp is newer (stamps only grow; a same-value write of
		// the walker's own is not re-stamped, so "older" is not a conflict).
		if p.optimistic && stored.Stamp > c.Base[name] {
			return p.fail("set", a.ID, name, fmt.Errorf("%w: stored at %s, walker's snapshot at %s", anchor.ErrConflict, stored.Stamp, c.Base[name]))
		}
		if had {
			same, err := p.sameValue(a, name, stored, v)
			if err != nil {
				return err
			}
			if same {
				continue // same value: nothing to re-stamp
			}
		}
		if a.Fields == nil {
			a.Fields = make(map[string]anchor.Field)
		}
		a.Fields[name] = anchor.Field{Value: bytes.Clone(v), Stamp: p.stamp}
		changed = true
	}
	for _, key := range anchor.SortedIDs(c.Grants) {
		lvl := c.Grants[key]
		if at := MarkOf(a, key).At; p.optimistic && at > c.GrantBase[key] {
			return p.fail("grant", a.ID, "access "+accessKey(key), fmt.Errorf("%w: stored at %s, walker's snapshot at %s", anchor.ErrConflict, at, c.GrantBase[key]))
		}
		if old, had := a.Access.Entry(key); had && old == lvl {
			continue
		}
		a.Access.SetEntry(key, lvl)
		setMark(a, key, anchor.Mark{At: p.stamp})
		changed = true
	}
	if over(p.maxFields, len(a.Fields)) {
		return p.fail("set", a.ID, "", fmt.Errorf("%w: the anchor would hold %d fields (at most %d)", anchor.ErrTooLarge, len(a.Fields), p.maxFields))
	}
	if changed {
		p.markDirty(a)
	}
	return nil
}

func (p *plan) delete(id anchor.ID) error {
	a, err := p.get(id)
	switch {
	case err != nil:
		return err
	case a == nil:
		return p.fail("delete", id, "", anchor.ErrNotFound)
	case !a.Live():
		// Already deleted (by another walker, or by an earlier cascade of
		// this batch): the outcome the walker asked for. Not an error, so
		// a stale disconnect or delete never fails the rest of its batch.
		return nil
	}
	if a.Kind == anchor.KindEdge {
		// Disconnecting needs Connect on each live endpoint.
		for _, end := range []anchor.ID{a.Source, a.Target} {
			node, err := p.get(end)
			if err != nil {
				return err
			}
			if node != nil && node.Live() {
				if err := p.need("disconnect", node, anchor.Connect); err != nil {
					return err
				}
			}
		}
		p.tombstone(a)
		return nil
	}
	if err := p.need("delete", a, anchor.Write); err != nil {
		return err
	}
	if a.Kind == anchor.KindNode {
		if err := p.cascade(id, p.stamp); err != nil {
			return err
		}
	}
	p.tombstone(a)
	return nil
}

// tombstone marks a deleted and, for an edge, drops its adjacency rows.
func (p *plan) tombstone(a *anchor.Anchor) {
	p.tombstoneAt(a, p.stamp)
	p.markDirty(a)
}

// tombstoneAt sets a's tombstone stamp and drops an edge's adjacency rows;
// the caller marks a dirty.
func (p *plan) tombstoneAt(a *anchor.Anchor, stamp anchor.HLC) {
	a.Deleted = stamp
	if a.Kind == anchor.KindEdge {
		for _, row := range a.Adjacency() {
			p.adj.set(adjKey{row.Node, row.Edge}, plannedRow{})
		}
	}
}
