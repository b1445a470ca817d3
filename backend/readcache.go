package backend

import "github.com/anchorage-db/anchorage/anchor"

// groupTx is the transaction one group's writes share, with a read cache:
// an anchor that several writes of the group read (the shared root every
// walker connects to) is read and decoded once per group, not once per
// write. Each read hands out a copy (delta.Apply may modify what it
// reads). A write of the group drops the anchor from the cache, so the
// next read goes to the transaction and sees every earlier write of the
// group. The cache lives exactly as long as the transaction.
type groupTx struct {
	Tx
	anchors map[anchor.ID]*anchor.Anchor // as read from Tx, never modified
}

func newGroupTx(tx Tx) *groupTx { return &groupTx{Tx: tx, anchors: make(map[anchor.ID]*anchor.Anchor)} }

// Anchor returns a copy of the cached anchor, or reads it and caches it.
func (t *groupTx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	if a, ok := t.anchors[id]; ok {
		return a.Clone(), nil
	}
	a, err := t.Tx.Anchor(id)
	if err != nil {
		return nil, err
	}
	t.anchors[id] = a
	return a.Clone(), nil
}

// PutAnchor writes a and forgets the cached copy of it.
func (t *groupTx) PutAnchor(a *anchor.Anchor) error {
	delete(t.anchors, a.ID)
	return t.Tx.PutAnchor(a)
}
