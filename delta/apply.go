package delta

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/anchorage-db/anchorage/anchor"
)

// Apply is the only function that writes anchors. It runs inside one
// backend write transaction and, for the batch b:
//
//  1. re-reads the stored state of every anchor it touches,
//  2. checks access against that stored state with b.Root,
//  3. checks integrity (edge endpoints exist, are live nodes; a deleted
//     node takes its incident edges with it),
//  4. merges only what the walker changed (fields it set, edges it added or
//     removed, header fields it changed), stamping them with one new HLC,
//  5. writes the result, the adjacency rows and the change-log entries.
//
// Apply is atomic with respect to tx: it plans every write in memory first
// and touches tx only once every check has passed, so a batch that fails a
// check returns a typed error (an *anchor.Error) and writes nothing. An error
// from tx while writing is returned as a *WriteError: the transaction is then
// half-written and the caller must roll all of it back.
//
// Changes are applied in phases, whatever their order in the batch: creates
// of non-edge anchors, creates of edges, field and access updates, edge
// and deletes. So a batch may create two nodes and the edge between them in
// any order, and may delete a node and disconnect one of its edges.
func Apply(tx Tx, b *Batch) error {
	var mt MetaTx
	if len(b.Meta) > 0 || b.hasRemote() {
		var ok bool
		if mt, ok = tx.(MetaTx); !ok {
			return fmt.Errorf("%w: this backend's transactions cannot merge replicated state (no MetaTx)", anchor.ErrIntegrity)
		}
	}
	p := &plan{tx: tx, root: b.Root, optimistic: b.Optimistic, stamp: tx.Stamp(),
		remote: b.From, local: b.Local, maxRemote: b.MaxRemote,
		cache: make(map[anchor.ID]*anchor.Anchor), adj: make(map[adjKey]*anchor.Adj)}
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
	if err := p.flush(); err != nil {
		return &WriteError{Err: err}
	}
	if mt != nil {
		for _, k := range metaKeys(b.Meta) {
			if err := mt.PutMeta(k, b.Meta[k]); err != nil {
				return &WriteError{Err: err}
			}
		}
		mt.Observe(p.stats.MaxStamp)
	}
	b.Stamp, b.Stats = p.stamp, p.stats
	return nil
}

func (b *Batch) hasRemote() bool {
	for i := range b.Changes {
		if b.Changes[i].Remote != nil {
			return true
		}
	}
	return false
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
	case c.Remote != nil && c.Remote.Kind == anchor.KindEdge:
		return phaseCreateEdge
	case c.Remote != nil:
		return phaseCreate
	case c.Create != nil && c.Create.Kind == anchor.KindEdge:
		return phaseCreateEdge
	case c.Create != nil:
		return phaseCreate
	case c.Delete:
		return phaseDelete
	default:
		return phaseUpdate
	}
}

type adjKey struct{ node, edge anchor.ID }

// plan accumulates the writes of one batch. Reads go through it, so later
// changes see earlier ones.
type plan struct {
	tx         Tx
	root       anchor.ID
	optimistic bool
	stamp      anchor.HLC

	remote, local anchor.ID  // replicas, for Remote changes
	maxRemote     anchor.HLC // bound on remote stamps (0: none)
	stats         MergeStats

	cache map[anchor.ID]*anchor.Anchor // anchors read or written, copies
	dirty []anchor.ID                  // anchors to write, in first-dirtied order
	isDir map[anchor.ID]bool
	adj   map[adjKey]*anchor.Adj // planned rows; nil value = delete
}

func (p *plan) fail(op string, id anchor.ID, field string, err error) error {
	return &anchor.Error{Op: op, ID: id, Field: field, Err: err}
}

// get returns the anchor as it stands in this batch (stored state plus the
// batch's earlier changes), or nil if it does not exist.
func (p *plan) get(id anchor.ID) (*anchor.Anchor, error) {
	if a, ok := p.cache[id]; ok {
		return a, nil
	}
	a, err := p.tx.Anchor(id)
	if errors.Is(err, anchor.ErrNotFound) {
		p.cache[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p.cache[id] = a
	return a, nil
}

// live returns the anchor, failing with a typed error if it is missing or a tombstone.
func (p *plan) live(op string, id anchor.ID) (*anchor.Anchor, error) {
	a, err := p.get(id)
	switch {
	case err != nil:
		return nil, err
	case a == nil:
		return nil, p.fail(op, id, "", anchor.ErrNotFound)
	case !a.Live():
		return nil, p.fail(op, id, "", anchor.ErrDeleted)
	}
	return a, nil
}

func (p *plan) markDirty(a *anchor.Anchor) { p.markDirtyAt(a, p.stamp) }

// markDirtyAt queues a for writing with Updated = stamp.
func (p *plan) markDirtyAt(a *anchor.Anchor, stamp anchor.HLC) {
	a.Updated = stamp
	if p.isDir == nil {
		p.isDir = make(map[anchor.ID]bool)
	}
	if !p.isDir[a.ID] {
		p.isDir[a.ID] = true
		p.dirty = append(p.dirty, a.ID)
	}
}

func (p *plan) need(op string, a *anchor.Anchor, lvl anchor.Level) error {
	if a.Allows(p.root, lvl) {
		return nil
	}
	return &anchor.Error{Op: op, ID: a.ID, Need: lvl, Root: p.root, Err: anchor.ErrAccessDenied}
}

func (p *plan) change(c *Change) error {
	switch {
	case c.Remote != nil:
		return p.merge(c)
	case c.Create != nil:
		return p.create(c)
	case c.Delete:
		return p.delete(c.ID)
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
			node, err := p.live("connect", end)
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
			p.adj[adjKey{row.Node, row.Edge}] = &row
		}
	} else {
		n.Source, n.Target, n.Undirected = anchor.ID{}, anchor.ID{}, false
	}
	n.Created, n.Deleted, n.AccessStamp = p.stamp, 0, p.stamp
	for name, f := range n.Fields {
		n.Fields[name] = anchor.Field{Value: f.Value, Stamp: p.stamp}
	}
	p.cache[n.ID] = n
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
	if len(c.Set) == 0 && c.Access == nil {
		return nil
	}
	a, err := p.live("set", c.ID)
	if err != nil {
		return err
	}
	if err := p.need("set", a, anchor.Write); err != nil {
		return err
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
		if had && bytes.Equal(stored.Value, v) {
			continue // same value: nothing to re-stamp
		}
		if a.Fields == nil {
			a.Fields = make(map[string]anchor.Field)
		}
		a.Fields[name] = anchor.Field{Value: bytes.Clone(v), Stamp: p.stamp}
		changed = true
	}
	if c.Access != nil && !c.Access.Equal(a.Access) {
		a.Access = c.Access.Clone()
		a.AccessStamp = p.stamp
		changed = true
	}
	if changed {
		p.markDirty(a)
	}
	return nil
}

func (p *plan) delete(id anchor.ID) error {
	if a, err := p.get(id); err == nil && a != nil && a.Deleted == p.stamp {
		return nil // already taken by an earlier delete of this batch (cascade)
	}
	a, err := p.live("delete", id)
	if err != nil {
		return err
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
			p.adj[adjKey{row.Node, row.Edge}] = nil
		}
	}
}

// adjacent returns node's adjacency rows as they stand in this batch.
func (p *plan) adjacent(node anchor.ID) ([]anchor.Adj, error) {
	var rows []anchor.Adj
	err := p.tx.Adjacent(node, func(r anchor.Adj) error {
		if _, planned := p.adj[adjKey{node, r.Edge}]; !planned {
			rows = append(rows, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, r := range p.adj {
		if k.node == node && r != nil {
			rows = append(rows, *r)
		}
	}
	return rows, nil
}

// flush writes the plan in key order: anchors by ID, adjacency rows by
// (node, edge). B-tree stores insert sorted keys cheaply (bbolt, which
// splits pages only at commit, pays O(k^2) copying for k unsorted inserts
// into a small tree), and the order does not change what is written.
func (p *plan) flush() error {
	slices.SortFunc(p.dirty, func(a, b anchor.ID) int { return bytes.Compare(a[:], b[:]) })
	keys := slices.SortedFunc(maps.Keys(p.adj), func(a, b adjKey) int {
		if c := bytes.Compare(a.node[:], b.node[:]); c != 0 {
			return c
		}
		return bytes.Compare(a.edge[:], b.edge[:])
	})
	for _, id := range p.dirty {
		if err := p.tx.PutAnchor(p.cache[id]); err != nil {
			return err
		}
		if err := p.tx.Logged(id); err != nil {
			return err
		}
	}
	for _, k := range keys {
		r := p.adj[k]
		var err error
		if r == nil {
			err = p.tx.DeleteAdj(k.node, k.edge)
		} else {
			err = p.tx.PutAdj(*r)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// WriteError reports that the transaction failed while Apply was writing a
// batch that had passed its checks. The transaction must be rolled back.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return "anchorage: write failed: " + e.Err.Error() }

// Unwrap returns the transaction's error.
func (e *WriteError) Unwrap() error { return e.Err }
