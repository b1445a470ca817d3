package backend

import (
	"bytes"

	"github.com/anchorage-db/anchorage/anchor"
)

// groupTx is the transaction one group's writes share, with a read cache:
// an anchor that several writes of the group read (the shared root every
// walker connects to) is read and decoded once per group, not once per
// write. Each read hands out a copy (delta.Apply may modify what it
// reads). A write of the group drops the anchor from the cache, so the
// next read goes to the transaction and sees every earlier write of the
// group. Small values (the store's index declaration and write-once
// types, which every write reads) are cached the same way. The cache
// lives exactly as long as the transaction.
type groupTx struct {
	Tx
	anchors map[anchor.ID]*anchor.Anchor // as read from Tx, never modified
	meta    map[string][]byte            // as read from Tx, never modified
}

func newGroupTx(tx Tx) *groupTx {
	return &groupTx{Tx: tx, anchors: make(map[anchor.ID]*anchor.Anchor), meta: make(map[string][]byte)}
}

// Meta returns the cached value of key, or reads it and caches it.
func (t *groupTx) Meta(key string) ([]byte, error) {
	if v, ok := t.meta[key]; ok {
		return bytes.Clone(v), nil
	}
	v, err := t.Tx.Meta(key)
	if err != nil {
		return nil, err
	}
	t.meta[key] = v
	return bytes.Clone(v), nil
}

// PutMeta writes value under key and forgets the cached value.
func (t *groupTx) PutMeta(key string, value []byte) error {
	delete(t.meta, key)
	return t.Tx.PutMeta(key, value)
}

// Anchor returns a copy of the cached anchor, or reads it and caches it.
func (t *groupTx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	a, err := t.SharedAnchor(id)
	if err != nil {
		return nil, err
	}
	return a.Clone(), nil
}

// SharedAnchor returns the cached anchor itself (delta.SharedReader), or
// reads it and caches it. A write of the anchor drops it from the cache;
// the value handed out is never modified.
func (t *groupTx) SharedAnchor(id anchor.ID) (*anchor.Anchor, error) {
	if a, ok := t.anchors[id]; ok {
		return a, nil
	}
	a, err := t.Tx.Anchor(id)
	if err != nil {
		return nil, err
	}
	t.anchors[id] = a
	return a, nil
}

// PutAnchor writes a and forgets the cached copy of it.
func (t *groupTx) PutAnchor(a *anchor.Anchor) error {
	delete(t.anchors, a.ID)
	return t.Tx.PutAnchor(a)
}
