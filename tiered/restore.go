package tiered

import (
	"context"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// Restore undeletes the node, walker or object id at once, in a batch of
// its own: the tombstone lives again under its ID with the fields and
// access it had when deleted, stamped as restored, and the restore wins
// over that tombstone on every replica (see delta's restore rules). The
// walker needs Write on the tombstone (the owner always has it). The
// edges the deletion took stay deleted: connect new ones. Restoring a
// live anchor does nothing; an edge cannot be restored (ErrIntegrity).
//
// L1 forgets id, so the next read loads the restored anchor.
func (m *Memory) Restore(ctx context.Context, id anchor.ID) error {
	if e, ok := m.l1[id]; ok && e.cur.Live() {
		return nil
	}
	b := &delta.Batch{Root: m.root, Changes: []delta.Change{{ID: id, Restore: true}}}
	if _, err := m.store.Apply(ctx, b); err != nil {
		return err
	}
	delete(m.l1, id)
	return nil
}
