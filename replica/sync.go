package replica

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// SyncResult describes one Sync.
type SyncResult struct {
	Export *ExportResult
	Import *ImportResult
	// Resynced: the source's change log no longer matched the cursor (it
	// was restored from a backup), so every change was sent again.
	Resynced bool
}

// restoreWindow is how many change-log entries at the cursor Sync checks
// for writes made after the cursor was set (see Sync).
const restoreWindow = 64

// Sync brings dst up to date with src: it exports from src the changes
// since dst's cursor for src and imports them into dst, streaming (no file).
// Sync both ways for two replicas to converge.
//
// The export follows src's change log and dst's cursor advances with each
// applied chunk, so a Sync interrupted anywhere (a dropped link, a crash,
// a cancelled context) resumes after its last applied chunk.
//
// Sync does not echo: an anchor whose every field and access entry came
// from dst, and that dst holds already at the same or a newer state
// (delta.Covers), is not sent back (ExportResult.Skipped counts them).
//
// Sync notices a source restored from a backup: its sequence is behind the
// cursor, or one of its change-log entries at the cursor was written after
// the cursor was set (restoreWindow entries are checked). It then sends
// everything again (SyncResult.Resynced); merging is idempotent, so only
// what dst lacks changes it.
//
// Sync refuses, with a *PurgedError (errors.Is ErrPurged), a dst whose
// cursor is older than src's purge horizon: dst may have missed deletes
// whose tombstones src has purged, and must be rebuilt (see PurgedError).
// A dst that never imported from src gets a full sync.
func Sync(ctx context.Context, src, dst backend.Store, opts *ImportOptions) (*SyncResult, error) {
	var srcMeta, dstMeta backend.Meta
	if err := src.View(ctx, func(v backend.View) error { srcMeta = v.Meta(); return nil }); err != nil {
		return nil, err
	}
	cur, dstMeta, err := ReadCursor(ctx, dst, srcMeta.StoreID)
	if err != nil {
		return nil, err
	}
	if srcMeta.StoreID == dstMeta.StoreID {
		return nil, fmt.Errorf("anchorage: sync: %w: source and destination are the same store %s (or one is a copy made with cp, which keeps the store's identity)", anchor.ErrIntegrity, srcMeta.StoreID)
	}
	// Before a resync resets the cursor: a dst that had not imported
	// through src's purge horizon stays refused.
	if err := src.View(ctx, func(v backend.View) error { return checkHorizon(v, cur.Through) }); err != nil {
		return nil, err
	}
	res := &SyncResult{}
	if res.Resynced, err = restored(ctx, src, srcMeta, cur); err != nil {
		return nil, err
	}
	if res.Resynced {
		raw, err := msgpack.Marshal(&Cursor{})
		if err != nil {
			return nil, err
		}
		if _, err := dst.Apply(ctx, &delta.Merge{From: srcMeta.ReplicaID, Meta: map[string][]byte{cursorKey(srcMeta.StoreID): raw}}); err != nil {
			return nil, err
		}
		cur = Cursor{}
	}
	var chunk int
	if opts != nil {
		chunk = opts.ChunkRecords
	}
	eo := &ExportOptions{After: cur.Through, ChunkRecords: chunk,
		Skip: func(a *anchor.Anchor) (bool, error) { return echo(ctx, dst, a, srcMeta.ReplicaID, dstMeta.ReplicaID) }}
	pr, pw := io.Pipe()
	exportErr := make(chan error, 1)
	go func() {
		var err error
		res.Export, err = Export(ctx, src, pw, eo)
		pw.CloseWithError(err)
		exportErr <- err
	}()
	res.Import, err = Import(ctx, dst, pr, opts)
	pr.CloseWithError(errors.New("import stopped"))
	if eerr := <-exportErr; eerr != nil && (err == nil || errors.Is(eerr, ErrPurged)) {
		err = eerr
	}
	return res, err
}

// echo reports whether a (from replica from) came wholly from dst's
// replica and dst holds it already: sending it back would change nothing.
func echo(ctx context.Context, dst backend.Store, a *anchor.Anchor, from, to anchor.ID) (bool, error) {
	origin := func(o anchor.ID) anchor.ID {
		if o.IsZero() {
			return from
		}
		return o
	}
	for _, f := range a.Fields {
		if origin(f.Origin) != to {
			return false, nil
		}
	}
	for _, k := range append([]anchor.ID{anchor.SystemRoot}, sortedKeys(a.Access.Roots)...) {
		if origin(delta.MarkOf(a, k).Origin) != to {
			return false, nil
		}
	}
	covered := false
	err := dst.View(ctx, func(v backend.View) error {
		s, err := v.Anchor(a.ID)
		if errors.Is(err, anchor.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		covered = delta.Covers(s, a, from, to)
		return nil
	})
	return covered, err
}

func sortedKeys[V any](m map[anchor.ID]V) []anchor.ID {
	out := make([]anchor.ID, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// restored reports whether src's change log no longer matches cur: its
// sequence is behind the cursor, or an entry at the cursor was written
// after the export that set the cursor.
func restored(ctx context.Context, src backend.Store, meta backend.Meta, cur Cursor) (bool, error) {
	if cur.Through == 0 {
		return false, nil
	}
	if meta.Seq < cur.Through {
		return true, nil
	}
	if cur.Stamp == 0 {
		return false, nil // a cursor written before cursors kept the source's stamp
	}
	errStop := errors.New("stop")
	found := false
	err := src.View(ctx, func(v backend.View) error {
		return v.Changes(cur.Through-min(cur.Through, restoreWindow), func(seq uint64, id anchor.ID) error {
			if seq > cur.Through {
				return errStop
			}
			a, err := v.Anchor(id)
			if err != nil {
				return err
			}
			if a.Updated > cur.Stamp {
				found = true
				return errStop
			}
			return nil
		})
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return found, err
}
