package tiered

import (
	"context"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// Options configures a Memory. Nil means the defaults.
type Options struct {
	// Optimistic makes Put and Commit fail with anchor.ErrConflict when a
	// field this walker set was changed by someone else since the walker
	// loaded it. By default the later commit wins, field by field.
	Optimistic bool
	// Snapshot makes every read of the walker (Get, Field, EdgesOf,
	// Peers, lookups) come from one consistent snapshot of the store,
	// taken at its first read and held until it writes (Put, Commit,
	// FindOrCreate), Abort or Close; the next read then takes a new one.
	// So a walker that lists edges and then loads every peer never finds a
	// listed peer deleted. By default each read sees the latest committed
	// state, and a peer deleted in between is reported with
	// anchor.ErrDeleted.
	//
	// The cost: the snapshot is a read transaction held open. On bolt a
	// writer that must grow the file waits until no such transaction is
	// open, and SQLite cannot checkpoint its WAL past it (sqlite
	// Options.MaxViewAge bounds how long it may be held); PostgreSQL keeps
	// old row versions for it. Keep walkers short, and Close every
	// Memory that uses it.
	Snapshot bool
	// ValidateReads makes Put and Commit fail with anchor.ErrConflict,
	// writing nothing, when an anchor this walker read from the store, or
	// a listing of a node's edges it made (EdgesOf, EdgePage, Peers), has
	// changed since it read it: a general find-then-write guard (list a
	// root's profiles, find none, create one: of racing walkers one
	// commits, the others conflict and retry). Reads are recorded from the
	// walker's first read and forgotten at each successful write. A
	// listing locks its node while the write checks it (on PostgreSQL, a
	// write to a node others are writing to is retried more often).
	ValidateReads bool
}

// Memory is one walker's L1: an identity map of the anchors it has loaded
// or created, each with the snapshot it was loaded as, over a shared
// backend.Store.
//
// A Memory belongs to one walker. It is not safe for concurrent use: call
// its methods from one goroutine at a time (hand it over with the usual
// happens-before, e.g. a channel). Many Memories may share one Store from
// any number of goroutines; that is the point. A Memory never sees other
// walkers' uncommitted changes, and its copies of anchors may be stale:
// that is harmless, because Put and Commit send only what this walker
// changed, and the store merges it into the current state.
type Memory struct {
	store backend.Store
	root  anchor.ID
	opts  Options
	l1    map[anchor.ID]*entry
	dels  int       // anchors Delete has marked in L1, ever: none means deleted is false for all
	snap  *snapshot // the held read view (Options.Snapshot), or nil
	reads reads     // what the walker read (Options.ValidateReads)
}

// entry is one anchor in L1. snap and cur are copy-on-write: neither is
// ever modified once it may be seen elsewhere (snap always; cur when it is
// snap itself or Get handed it out), so a hit hands out cur without a copy
// and a load stores the decoded anchor once. Every change goes through mut.
type entry struct {
	snap *anchor.Anchor  // as loaded or last written; nil if never stored; never modified
	cur  *anchor.Anchor  // this walker's view; Deleted != 0 once it deleted it
	own  bool            // cur is private to this entry: mut may change it in place
	set  map[string]bool // fields Set since the last write, even to their loaded value
}

// mut returns cur ready to be changed: a private copy if cur is shared
// with snap or was handed out by Get.
func (e *entry) mut() *anchor.Anchor {
	if !e.own {
		e.cur, e.own = e.cur.Clone(), true
	}
	return e.cur
}

// diff is the change to write for e.
func (e *entry) diff() (delta.Change, bool) { return delta.Diff(e.snap, e.cur, e.set) }

// New returns an empty Memory for a walker acting as root.
func New(store backend.Store, root anchor.ID, opts *Options) *Memory {
	m := &Memory{store: store, root: root, l1: make(map[anchor.ID]*entry)}
	if opts != nil {
		m.opts = *opts
	}
	return m
}

// Root returns the root this walker acts as.
func (m *Memory) Root() anchor.ID { return m.root }

// Store returns the durable tier.
func (m *Memory) Store() backend.Store { return m.store }

// load returns the L1 entry for id, reading it from the store (and checking
// Read access) if needed.
func (m *Memory) load(ctx context.Context, op string, id anchor.ID) (*entry, error) {
	if e, ok := m.l1[id]; ok {
		if !e.cur.Live() {
			return nil, &anchor.Error{Op: op, ID: id, Err: anchor.ErrDeleted}
		}
		return e, nil
	}
	e := &entry{} // filled by the read: one allocation for the entry and the result
	err := m.view(ctx, func(v backend.View) error {
		var err error
		e.snap, err = v.Anchor(id)
		return err
	})
	if err != nil {
		return nil, err
	}
	a := e.snap
	m.readAnchor(a)
	if !a.Live() {
		return nil, &anchor.Error{Op: op, ID: id, Err: anchor.ErrDeleted}
	}
	if !a.Allows(m.root, anchor.Read) {
		return nil, &anchor.Error{Op: op, ID: id, Need: anchor.Read, Root: m.root, Err: anchor.ErrAccessDenied}
	}
	e.cur = a // shared with snap until the walker changes it
	m.l1[id] = e
	return e, nil
}

// Get returns the anchor as this walker sees it: from L1 if it is there,
// else from the store (which needs Read access).
//
// The result is a read-only, immutable view shared with L1, so a hit costs
// a map lookup and no allocation: the caller must not modify it (call
// Clone for a copy to change). Memory never changes it either: the
// walker's later Set, Grant or Delete copy the anchor first (copy on
// write), so a view keeps showing the anchor as it was when Get returned
// it. To change the anchor use Set, SetAccess, Grant, Connect, Delete.
func (m *Memory) Get(ctx context.Context, id anchor.ID) (*anchor.Anchor, error) {
	e, err := m.load(ctx, "get", id)
	if err != nil {
		return nil, err
	}
	e.own = false // handed out: the next change copies
	return e.cur, nil
}

// Field decodes one field of the anchor, as this walker sees it, into v.
func (m *Memory) Field(ctx context.Context, id anchor.ID, name string, v any) error {
	e, err := m.load(ctx, "get", id)
	if err != nil {
		return err
	}
	return e.cur.Field(name, v)
}

// Create makes a new anchor of kind (node, walker or object; use Connect
// for edges) owned by this walker's root, with a random ID. It is written
// by the next Commit, or by Put.
func (m *Memory) Create(kind anchor.Kind, typ string, fields map[string]any) (anchor.ID, error) {
	id := anchor.NewID()
	return id, m.CreateAt(id, kind, typ, fields)
}

// CreateAt is Create with a chosen ID (for example a user's root node,
// created by the system root with the user's root ID).
func (m *Memory) CreateAt(id anchor.ID, kind anchor.Kind, typ string, fields map[string]any) error {
	if kind == anchor.KindEdge || !kind.Valid() {
		return &anchor.Error{Op: "create", ID: id, Err: fmt.Errorf("%w: cannot create a %s with Create; edges are made by Connect", anchor.ErrIntegrity, kind)}
	}
	if _, ok := m.l1[id]; ok {
		return &anchor.Error{Op: "create", ID: id, Err: anchor.ErrExists}
	}
	a := &anchor.Anchor{ID: id, Kind: kind, Owner: m.root, Type: typ}
	if err := setFields(a, fields); err != nil {
		return err
	}
	m.l1[id] = &entry{cur: a, own: true}
	return nil
}

func setFields(a *anchor.Anchor, fields map[string]any) error {
	for name, v := range fields {
		if err := a.SetField(name, v); err != nil {
			return err
		}
	}
	return nil
}

// Connect makes a directed edge src -> dst of archetype typ. Both ends must
// be live nodes this walker can read; the store checks Connect access on
// both when the edge is written.
func (m *Memory) Connect(ctx context.Context, src, dst anchor.ID, typ string, fields map[string]any) (anchor.ID, error) {
	return m.connect(ctx, src, dst, typ, false, fields)
}

// ConnectUndirected is Connect for an undirected edge.
func (m *Memory) ConnectUndirected(ctx context.Context, a, b anchor.ID, typ string, fields map[string]any) (anchor.ID, error) {
	return m.connect(ctx, a, b, typ, true, fields)
}

func (m *Memory) connect(ctx context.Context, src, dst anchor.ID, typ string, undirected bool, fields map[string]any) (anchor.ID, error) {
	for _, end := range []anchor.ID{src, dst} {
		e, err := m.load(ctx, "connect", end)
		if err != nil {
			return anchor.ID{}, err
		}
		if e.cur.Kind != anchor.KindNode {
			return anchor.ID{}, &anchor.Error{Op: "connect", ID: end, Err: fmt.Errorf("%w: endpoint is a %s, not a node", anchor.ErrIntegrity, e.cur.Kind)}
		}
	}
	a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: m.root, Type: typ,
		Source: src, Target: dst, Undirected: undirected}
	if err := setFields(a, fields); err != nil {
		return anchor.ID{}, err
	}
	m.l1[a.ID] = &entry{cur: a, own: true}
	return a.ID, nil
}

// Disconnect removes an edge.
func (m *Memory) Disconnect(ctx context.Context, edge anchor.ID) error {
	e, err := m.load(ctx, "disconnect", edge)
	if err != nil {
		return err
	}
	if e.cur.Kind != anchor.KindEdge {
		return &anchor.Error{Op: "disconnect", ID: edge, Err: fmt.Errorf("%w: %s is not an edge", anchor.ErrIntegrity, e.cur)}
	}
	return m.Delete(ctx, edge)
}

// Set sets one field of an anchor to v (encoded with msgpack). Only the
// fields a walker sets are written; the store keeps every other field as
// it stands, whoever wrote it.
func (m *Memory) Set(ctx context.Context, id anchor.ID, field string, v any) error {
	e, err := m.load(ctx, "set", id)
	if err != nil {
		return err
	}
	if err := e.mut().SetField(field, v); err != nil {
		return err
	}
	if e.set == nil {
		e.set = make(map[string]bool)
	}
	e.set[field] = true
	return nil
}

// SetAccess sets the anchor's Access.All and each per-root grant acc
// names; grants acc does not name are left as they are. Only the owner may
// change access: another walker's commit fails with ErrAccessDenied. Only
// the entries that differ from what this walker loaded are written, each
// merged on its own, so concurrent grants by other walkers survive.
func (m *Memory) SetAccess(ctx context.Context, id anchor.ID, acc anchor.Access) error {
	e, err := m.load(ctx, "grant", id)
	if err != nil {
		return err
	}
	cur := e.cur.Access.Clone()
	cur.All = acc.All
	for root, lvl := range acc.Roots {
		cur.SetEntry(root, lvl)
	}
	e.mut().Access = cur
	return nil
}

// Grant gives root the level on the anchor (NoAccess revokes, overriding
// Access.All for that root). Only the owner may change access; the grant is
// written as one entry, merged with other walkers' grants.
func (m *Memory) Grant(ctx context.Context, id, root anchor.ID, level anchor.Level) error {
	e, err := m.load(ctx, "grant", id)
	if err != nil {
		return err
	}
	acc := e.cur.Access.Clone()
	if acc.Roots == nil {
		acc.Roots = make(map[anchor.ID]anchor.Level)
	}
	acc.Roots[root] = level
	e.mut().Access = acc
	return nil
}

// Delete deletes an anchor; deleting a node deletes its edges too (the
// store does it in the same transaction). Until the delete is committed
// the walker no longer sees the anchor, nor (for a node) its edges; its own
// new edges to the node stay in L1 and come back if the delete fails and
// the walker forgets the node.
func (m *Memory) Delete(ctx context.Context, id anchor.ID) error {
	e, err := m.load(ctx, "delete", id)
	if err != nil {
		return err
	}
	if e.snap == nil {
		delete(m.l1, id) // never stored: nothing to write
		if e.cur.Kind == anchor.KindNode {
			m.dropEdges(id)
		}
		return nil
	}
	e.mut().Deleted = 1 // any non-zero marks it; the store stamps the tombstone
	m.dels++
	return nil
}

// dropEdges removes from L1 every edge incident to node.
func (m *Memory) dropEdges(node anchor.ID) {
	for eid, x := range m.l1 {
		if x.cur.Kind == anchor.KindEdge && (x.cur.Source == node || x.cur.Target == node) {
			delete(m.l1, eid)
		}
	}
}

// deleted reports whether this walker deleted id and has not committed it.
// Only Delete leaves an L1 entry that is not live, so a walker that never
// deleted anything skips the lookup (a listing asks for every row).
func (m *Memory) deleted(id anchor.ID) bool {
	if m.dels == 0 {
		return false
	}
	e, ok := m.l1[id]
	return ok && !e.cur.Live()
}

// Put writes one anchor's changes now, together with what it needs to be
// valid: for a new edge, its endpoints that were never stored. This is the
// cascade-save path; it goes through the same Store.Apply -> delta.Apply
// merge as Commit, so a stale copy can never erase what other walkers wrote.
func (m *Memory) Put(ctx context.Context, id anchor.ID) error {
	e, ok := m.l1[id]
	if !ok {
		return nil // nothing loaded, nothing changed
	}
	ids := []anchor.ID{id}
	if e.snap == nil && e.cur.Kind == anchor.KindEdge {
		for _, end := range []anchor.ID{e.cur.Source, e.cur.Target} {
			if x, ok := m.l1[end]; ok && x.snap == nil && end != id {
				ids = append(ids, end)
			}
		}
	}
	return m.write(ctx, ids)
}

// Commit writes every change this walker made, in one atomic batch. On error
// nothing was written and L1 keeps the changes (retry with Commit, or drop
// them with Abort).
func (m *Memory) Commit(ctx context.Context) error {
	ids := make([]anchor.ID, 0, len(m.l1))
	for id := range m.l1 {
		ids = append(ids, id)
	}
	return m.write(ctx, ids)
}

// Abort drops every uncommitted change and empties L1 (and forgets what
// the walker read, for Options.ValidateReads); later reads go to the
// store and see its current state.
func (m *Memory) Abort() { m.release(); clear(m.l1); m.reads = reads{} }

// Forget drops one anchor from L1 (with any uncommitted change to it), so
// the next read loads it fresh.
func (m *Memory) Forget(id anchor.ID) { delete(m.l1, id) }

// Dirty reports how many anchors have changes not yet written.
func (m *Memory) Dirty() int {
	n := 0
	for _, e := range m.l1 {
		if _, ok := e.diff(); ok {
			n++
		}
	}
	return n
}

// write diffs the given anchors and applies them as one batch. A new edge
// to a node this walker deletes in the same batch is not sent (the delete
// would take it at once); it leaves L1 with the node once the delete lands.
func (m *Memory) write(ctx context.Context, ids []anchor.ID) error {
	b := &delta.Batch{Root: m.root, Optimistic: m.opts.Optimistic, Checks: m.readChecks()}
	var deletedNodes []anchor.ID
	for _, id := range ids {
		e := m.l1[id]
		if e.snap == nil && e.cur.Kind == anchor.KindEdge && (m.deleted(e.cur.Source) || m.deleted(e.cur.Target)) {
			continue
		}
		if c, ok := e.diff(); ok {
			b.Changes = append(b.Changes, c)
			if c.Delete && e.cur.Kind == anchor.KindNode {
				deletedNodes = append(deletedNodes, id)
			}
		}
	}
	if len(b.Changes) == 0 {
		return nil
	}
	m.release()
	res, err := m.store.Apply(ctx, b)
	if err != nil {
		return err
	}
	for _, c := range b.Changes {
		m.written(c, res.Stamp)
	}
	for _, node := range deletedNodes {
		m.dropEdges(node)
	}
	m.reads = reads{}
	return nil
}

// written makes the walker's copy of a just-written anchor its new snapshot,
// with the stamps the store gave it.
func (m *Memory) written(c delta.Change, stamp anchor.HLC) {
	e := m.l1[c.ID]
	if c.Delete {
		delete(m.l1, c.ID)
		return
	}
	cur := e.mut()
	if c.Create != nil {
		cur.Created, cur.AccessStamps = stamp, nil
	}
	for key := range c.Grants {
		if cur.AccessStamps == nil {
			cur.AccessStamps = make(map[anchor.ID]anchor.Mark)
		}
		cur.AccessStamps[key] = anchor.Mark{At: stamp}
	}
	cur.Updated = stamp
	for name, f := range cur.Fields {
		if _, set := c.Set[name]; set || c.Create != nil {
			cur.Fields[name] = anchor.Field{Value: f.Value, Stamp: stamp}
		}
	}
	// The written copy becomes the snapshot; cur shares it until the
	// walker's next change copies it.
	e.snap, e.own, e.set = cur, false, nil
}
