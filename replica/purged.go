package replica

import (
	"context"
	"errors"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// ErrPurged: the source purged tombstones (backend.Engine.Purge) that the
// receiver had not imported yet, so a partial export or sync could no
// longer tell it about those deletes. See PurgedError.
var ErrPurged = errors.New("anchorage: the source purged deletes this replica has not imported")

// PurgedError refuses an export or sync that continues from a cursor older
// than the source's purge horizon (backend.Horizon): the receiver may hold
// anchors the source deleted and then purged, and a partial sync would
// never delete them there. Worse, a receiver that wrote to such an anchor
// would send it back and resurrect it at the source.
//
// The remedy is a full resync: rebuild the receiver as a new, empty store
// synced from the source from sequence 0 (Sync into a new store, or Export
// with After 0 and Import into a new store). A full sync into the stale
// store is not enough: it sends only what the source holds, and purged
// anchors are simply absent from it, so the stale store would keep them.
//
// errors.Is(err, ErrPurged) reports true.
type PurgedError struct {
	Source  anchor.ID       // the source store
	Cursor  uint64          // the receiver's cursor: source changes imported through this sequence
	Horizon backend.Horizon // the source's purge horizon
}

func (e *PurgedError) Error() string {
	when := ""
	if e.Horizon.Before != 0 {
		when = fmt.Sprintf(" (deleted before %s)", e.Horizon.Before)
	}
	return fmt.Sprintf("anchorage: source store %s purged tombstones%s through its change-log sequence %d, "+
		"but this replica has imported its changes only through sequence %d and may have missed those deletes: "+
		"resync fully by rebuilding this replica as a new, empty store synced from the source from sequence 0 "+
		"(a sync into this store would keep the anchors the source deleted and purged, and could resurrect them at the source)",
		e.Source, when, e.Horizon.Seq, e.Cursor)
}

// Unwrap returns ErrPurged.
func (e *PurgedError) Unwrap() error { return ErrPurged }

// purgedSince returns the purge horizon of the store v shows.
func purgedSince(v backend.View) (uint64, error) {
	h, err := backend.ReadHorizon(v)
	return h.Seq, err
}

// checkHorizon refuses, with a *PurgedError, changes after sequence after
// of the source v shows when the source purged tombstones logged after it.
// after 0 (everything) is always allowed.
func checkHorizon(v backend.View, after uint64) error {
	if after == 0 {
		return nil
	}
	h, err := backend.ReadHorizon(v)
	if err != nil {
		return err
	}
	if after < h.Seq {
		return &PurgedError{Source: v.Meta().StoreID, Cursor: after, Horizon: h}
	}
	return nil
}

// ErrNoCursor: a replica has never imported from the source, so no
// tombstone of the source is known to have reached it.
var ErrNoCursor = errors.New("anchorage: replica has not imported from this source")

// MinCursor returns the least of the replicas' import cursors for src: the
// greatest change-log sequence of src that every one of them has imported.
// Passed as backend.PurgeOptions.Replicated, it keeps a purge of src from
// removing a tombstone any of them has not imported, so none is refused a
// later sync. A replica that never imported from src yields an error
// wrapping ErrNoCursor; no replicas, anchor.ErrInvalid.
func MinCursor(ctx context.Context, src backend.Store, replicas ...backend.Store) (uint64, error) {
	if len(replicas) == 0 {
		return 0, fmt.Errorf("anchorage: min cursor: %w: no replicas given", anchor.ErrInvalid)
	}
	var meta backend.Meta
	if err := src.View(ctx, func(v backend.View) error { meta = v.Meta(); return nil }); err != nil {
		return 0, err
	}
	var least uint64
	for i, r := range replicas {
		cur, rm, err := ReadCursor(ctx, r, meta.StoreID)
		if err != nil {
			return 0, err
		}
		if cur.Through == 0 {
			return 0, fmt.Errorf("%w: store %s (replica %d) holds no cursor for source %s", ErrNoCursor, rm.StoreID, i+1, meta.StoreID)
		}
		if i == 0 || cur.Through < least {
			least = cur.Through
		}
	}
	return least, nil
}
