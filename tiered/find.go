package tiered

import (
	"context"
	"errors"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// RootType is the archetype of the root nodes CreateRoot makes; list them
// with OfType.
const RootType = "Root"

// CreateRoot creates a user's root node: a node of archetype RootType
// that owns itself, so a walker acting as it (New(store, root, nil)) may
// do anything to it. fields are stored on it (for example a user name an
// index on (RootType, field) finds). It is written at once, by the system
// root.
func CreateRoot(ctx context.Context, store backend.Store, fields map[string]any) (anchor.ID, error) {
	id := anchor.NewID()
	a := &anchor.Anchor{ID: id, Kind: anchor.KindNode, Owner: id, Type: RootType}
	if err := setFields(a, fields); err != nil {
		return anchor.ID{}, err
	}
	_, err := store.Apply(ctx, &delta.Batch{Root: anchor.SystemRoot, Changes: []delta.Change{{ID: id, Create: a}}})
	if err != nil {
		return anchor.ID{}, err
	}
	return id, nil
}

// FindOrCreate returns the peer of node's outgoing edge of type edgeType,
// creating it (a new anchor of kind and typ with fields, and the edge) if
// there is none: the Jac "me" walker's "find the root's profile, or make
// one", in one call. edgeType must be declared create-once in the store
// (delta.Indexes.Once, through delta.Declare): then the check and the
// create run in one write transaction, so of any number of walkers racing
// on a new node exactly one creates the peer and every other gets that
// same peer, with no error and nothing left behind. created reports
// whether this call made it.
//
// It writes at once, on its own (the walker's other changes wait for its
// Commit), and the result is a read-only view as Get returns.
func (m *Memory) FindOrCreate(ctx context.Context, node anchor.ID, edgeType string, kind anchor.Kind, typ string, fields map[string]any) (peer *anchor.Anchor, created bool, err error) {
	for r, err := range m.EdgesOf(ctx, node, delta.EdgeQuery{Dir: anchor.Out, Type: edgeType}) {
		if err != nil {
			return nil, false, err
		}
		peer, err := m.Get(ctx, r.Peer)
		return peer, false, err
	}
	if kind == anchor.KindEdge || !kind.Valid() {
		return nil, false, &anchor.Error{Op: "find-or-create", ID: node, Err: fmt.Errorf("%w: cannot create a %s", anchor.ErrIntegrity, kind)}
	}
	n := &anchor.Anchor{ID: anchor.NewID(), Kind: kind, Owner: m.root, Type: typ}
	if err := setFields(n, fields); err != nil {
		return nil, false, err
	}
	e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: m.root, Type: edgeType, Source: node, Target: n.ID}
	b := &delta.Batch{Root: m.root, Once: &delta.Once{Node: node, Type: edgeType},
		Changes: []delta.Change{{ID: n.ID, Create: n}, {ID: e.ID, Create: e}}}
	m.release()
	res, err := m.store.Apply(ctx, b)
	if err != nil {
		return nil, false, err
	}
	if !res.Found.Edge.IsZero() {
		peer, err := m.Get(ctx, res.Found.Peer)
		return peer, false, err
	}
	for _, a := range []*anchor.Anchor{n, e} {
		m.l1[a.ID] = &entry{cur: a, own: true}
		m.written(delta.Change{ID: a.ID, Create: a}, res.Stamp)
	}
	peer, err = m.Get(ctx, n.ID)
	return peer, true, err
}

// Peers returns the peers of up to limit of node's rows that q selects
// (from q.After), loaded in the same read as the rows, and the cursor of
// the next page (nil after the last). A peer this walker may not read, or
// one it deleted, is left out and counted in skipped. The peers enter L1
// (a later Get of one is a hit) and are read-only views as Get returns.
func (m *Memory) Peers(ctx context.Context, node anchor.ID, q delta.EdgeQuery, limit int) (peers []*anchor.Anchor, next []byte, skipped int, err error) {
	rows, next, err := m.EdgePage(ctx, node, q, limit)
	if err != nil {
		return nil, nil, 0, err
	}
	ids := make([]anchor.ID, len(rows))
	for i, r := range rows {
		ids[i] = r.Peer
	}
	peers, skipped, err = m.loadMany(ctx, ids)
	return peers, next, skipped, err
}

// loadMany returns the anchors ids as this walker sees them, reading the
// ones not in L1 in one read of the store; an anchor it may not read, or
// that is deleted, is skipped.
func (m *Memory) loadMany(ctx context.Context, ids []anchor.ID) (out []*anchor.Anchor, skipped int, err error) {
	var missing []anchor.ID
	for _, id := range ids {
		if _, ok := m.l1[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		err := m.view(ctx, func(v backend.View) error {
			for _, id := range missing {
				a, err := v.Anchor(id)
				if anchor.IsNotFound(err) {
					continue
				}
				if err != nil {
					return err
				}
				m.readAnchor(a)
				if _, ok := m.l1[id]; !ok && a.Live() && a.Allows(m.root, anchor.Read) {
					m.l1[id] = &entry{snap: a, cur: a}
				}
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
	}
	for _, id := range ids {
		e, ok := m.l1[id]
		if !ok || !e.cur.Live() {
			skipped++
			continue
		}
		e.own = false
		out = append(out, e.cur)
	}
	return out, skipped, nil
}

// OfType returns up to limit IDs of live anchors of archetype typ (from
// after, a cursor this call returned), and the cursor of the next page
// (nil after the last). It lists what is stored, whoever may read it; a
// Get checks access.
func (m *Memory) OfType(ctx context.Context, typ string, after []byte, limit int) (ids []anchor.ID, next []byte, err error) {
	limit = max(limit, 1)
	err = m.view(ctx, func(v backend.View) error {
		ids, next = ids[:0], nil
		return delta.OfType(v, typ, after, func(id anchor.ID, cursor []byte) error {
			if len(ids) == limit {
				return errPageFull
			}
			ids, next = append(ids, id), append(next[:0], cursor...)
			return nil
		})
	})
	if errors.Is(err, errPageFull) {
		return ids, next, nil
	}
	return ids, nil, err
}

// Lookup returns the live anchors of archetype typ whose field equals
// value, through the store's declared index on (typ, field) (see
// delta.Declare); anchor.ErrNoIndex if there is none. Anchors this walker
// may not read are left out. Anchors it changed and has not written are
// found by their stored values.
func (m *Memory) Lookup(ctx context.Context, typ, field string, value any) ([]*anchor.Anchor, error) {
	raw, err := anchor.EncodeValue(value)
	if err != nil {
		return nil, err
	}
	var ids []anchor.ID
	err = m.view(ctx, func(v backend.View) error {
		return delta.Lookup(v, typ, field, raw, func(id anchor.ID) error { ids = append(ids, id); return nil })
	})
	if err != nil {
		return nil, err
	}
	found, _, err := m.loadMany(ctx, ids)
	return found, err
}
