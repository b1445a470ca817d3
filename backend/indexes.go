package backend

import (
	"context"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// ensureIndexed gives every stored anchor its secondary-index entries the
// first time a read-write engine opens a store kept before it had them
// (delta.IndexedKey not set); a store that is empty just gets the key.
// It is one transaction: the edge entries are the store's only adjacency,
// so no write may run (a node's cascade delete reads them) until every
// edge has its entries. Every read-write engine runs it before its Open
// returns, so an engine that writes has seen the key set. An interrupted
// run leaves nothing and starts over on the next open. A record that does
// not decode fails it with anchor.ErrCorrupt: its edges would otherwise
// vanish from their nodes' lists without an error (open the store
// read-only to export what is readable, or restore it from a replica).
func (e *Engine) ensureIndexed(ctx context.Context) error {
	var ids []anchor.ID
	done := false
	err := e.d.View(ctx, func(v Snapshot) error {
		b, err := v.MetaValue(delta.IndexedKey)
		if err != nil || b != nil {
			done = b != nil
			return err
		}
		return v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
			if err != nil {
				return &anchor.Error{Op: "index", ID: id, Err: err}
			}
			if a.Live() {
				ids = append(ids, id)
			}
			return nil
		})
	})
	if err != nil || done {
		return err
	}
	_, err = e.Apply(ctx, &delta.Reindex{IDs: ids, Done: true})
	return err
}
