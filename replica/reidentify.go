package replica

import (
	"context"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// Reidentify gives a copy of a store a new identity: it copies everything
// copy holds (and its write-once declarations) into fresh, a new empty
// store with its own store and replica IDs, trusted, and then forgets
// where that copy came from, so fresh's first sync with the original (or
// with the copy) sends everything and merges it as usual. Use it for a
// store copied with cp, which shares the original's identity and so can
// never sync with it: replace the copy with fresh.
//
// Writes made on the copy after it was copied carry the original's replica
// ID as their origin (they were made under it); that stays so.
func Reidentify(ctx context.Context, copy, fresh backend.Store) error {
	var meta backend.Meta
	if err := fresh.View(ctx, func(v backend.View) error { meta = v.Meta(); return nil }); err != nil {
		return err
	}
	if meta.Seq != 0 {
		return fmt.Errorf("anchorage: reidentify: %w: the new store %s is not empty", anchor.ErrIntegrity, meta.StoreID)
	}
	types, err := WriteOnce(ctx, copy)
	if err != nil {
		return err
	}
	if len(types) > 0 {
		if err := DeclareWriteOnce(ctx, fresh, types...); err != nil {
			return err
		}
	}
	res, err := Sync(ctx, copy, fresh, &ImportOptions{MaxSkew: 1 << 62})
	if err != nil {
		return fmt.Errorf("anchorage: reidentify: %w", err)
	}
	raw, err := msgpack.Marshal(&Cursor{})
	if err != nil {
		return err
	}
	_, err = fresh.Apply(ctx, &delta.Merge{Meta: map[string][]byte{cursorKey(res.Export.Header.SourceStore): raw}})
	return err
}
