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
// edges the deletion took stay deleted: connect new ones. Restoring an
// anchor that is live in the store does nothing; an edge cannot be
// restored (ErrIntegrity).
//
// The store decides, not this walker's copy (another walker may have
// deleted what L1 holds as live). Afterwards L1 forgets id, so the next
// read loads the restored anchor, unless the walker changed fields or
// access of a live copy and has not committed them yet: that copy stays,
// and the next Commit writes the changes. An uncommitted Delete of id is
// dropped: the restore undoes it.
func (m *Memory) Restore(ctx context.Context, id anchor.ID) error {
	b := &delta.Batch{Root: m.root, Changes: []delta.Change{{ID: id, Restore: true}}}
	if _, err := m.store.Apply(ctx, b); err != nil {
		return err
	}
	if e, ok := m.l1[id]; ok {
		if _, dirty := e.diff(); !dirty || !e.cur.Live() {
			delete(m.l1, id)
		}
	}
	return nil
}
