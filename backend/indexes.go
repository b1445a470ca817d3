package backend

import (
	"context"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// reindexChunk is the number of anchors one Reindex transaction covers.
const reindexChunk = 1024

// ensureIndexed gives every stored anchor its secondary-index entries the
// first time a read-write engine opens a store kept before it had them
// (delta.IndexedKey not set), in transactions of reindexChunk anchors
// that other writers interleave with; a store that is empty just gets the
// key. An interrupted run starts over on the next open: Reindex skips
// entries that are already right.
func (e *Engine) ensureIndexed(ctx context.Context) error {
	var ids []anchor.ID
	done := false
	err := e.d.View(ctx, func(v View) error {
		b, err := v.MetaValue(delta.IndexedKey)
		if err != nil || b != nil {
			done = b != nil
			return err
		}
		return v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
			if err == nil && a.Live() { // a damaged record is Verify's to report
				ids = append(ids, id)
			}
			return nil
		})
	})
	if err != nil || done {
		return err
	}
	for start := 0; ; start += reindexChunk {
		end := min(start+reindexChunk, len(ids))
		if _, err := e.Apply(ctx, &delta.Reindex{IDs: ids[start:end], Done: end == len(ids)}); err != nil {
			return err
		}
		if end == len(ids) {
			return nil
		}
	}
}
