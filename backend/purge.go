package backend

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// Tombstones and their purge.
//
// A deleted anchor stays in the store as a tombstone (anchor.Deleted != 0)
// with its change-log entry: replication sends the tombstone to replicas,
// which is how a delete reaches them. Purge removes tombstones deleted
// before a horizon, with their log entries. A replica that imported the
// source's changes through the last purged log entry has seen every
// purged tombstone; one that had not cannot be sent them any more, so the
// store records its horizon (Horizon, under the meta key HorizonKey) and
// replication refuses such a replica a partial sync (replica.ErrPurged).
//
// Choose the horizon so that every known replica has imported every delete
// before it: a replica that was not caught up must then be rebuilt.

// HorizonKey is the meta key (View.MetaValue) under which a store keeps
// its purge horizon.
const HorizonKey = "purge/horizon"

// Horizon is what a store has purged.
type Horizon struct {
	// Before: tombstones deleted before this stamp may be gone.
	Before anchor.HLC
	// Seq is the greatest change-log sequence of a purged entry: a replica
	// whose cursor for this store is at or past Seq has seen every purged
	// tombstone. Zero when nothing was ever purged.
	Seq uint64
}

func (h Horizon) encode() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(h.Before))
	binary.BigEndian.PutUint64(b[8:], h.Seq)
	return b
}

func decodeHorizon(raw []byte) (Horizon, error) {
	switch len(raw) {
	case 0:
		return Horizon{}, nil
	case 16:
		return Horizon{Before: anchor.HLC(binary.BigEndian.Uint64(raw)), Seq: binary.BigEndian.Uint64(raw[8:])}, nil
	}
	return Horizon{}, fmt.Errorf("%w: purge horizon of %d bytes", anchor.ErrCorrupt, len(raw))
}

// ReadHorizon returns the purge horizon of the store v shows (zero if
// nothing was ever purged).
func ReadHorizon(v Snapshot) (Horizon, error) {
	raw, err := v.MetaValue(HorizonKey)
	if err != nil {
		return Horizon{}, err
	}
	return decodeHorizon(raw)
}

// PurgeOptions configures Purge. Nil means the defaults.
type PurgeOptions struct {
	// Chunk is how many tombstones one write transaction removes. Each
	// chunk is atomic; other writers wait at most one chunk. Default 1000,
	// at most 100,000. On PostgreSQL each tombstone of a chunk takes a
	// lock in the server's shared lock table: keep chunks to thousands.
	Chunk int
	// Progress, if set, is called after each chunk commits.
	Progress func(PurgeStats)
	// Replicated, if not 0, purges only the tombstones whose change-log
	// entry is at or below this sequence: the least import cursor for
	// this store among its replicas (replica.MinCursor), so that no
	// replica is refused a later sync. 0: no such bound (then choose
	// before so that every replica has imported the deletes before it).
	Replicated uint64
}

// maxPurgeChunk bounds one purge transaction.
const maxPurgeChunk = 100_000

// withDefaults returns a copy of o (nil allowed) with defaults filled in,
// or an error wrapping ErrOptions.
func (o *PurgeOptions) withDefaults() (PurgeOptions, error) {
	var c PurgeOptions
	if o != nil {
		c = *o
	}
	if c.Chunk == 0 {
		c.Chunk = 1000
	}
	if c.Chunk < 0 || c.Chunk > maxPurgeChunk {
		return c, fmt.Errorf("%w: purge Chunk %d is outside 1..%d", ErrOptions, c.Chunk, maxPurgeChunk)
	}
	return c, nil
}

// PurgeStats describes a purge, finished or in progress.
type PurgeStats struct {
	// Candidates: tombstones deleted before the horizon when Purge
	// scanned the store.
	Candidates int
	// Purged: tombstones removed, with their change-log entries.
	Purged int
	// Kept: candidates left in place (a node that still holds adjacency
	// rows, or a record changed since the scan).
	Kept    int
	Chunks  int     // write transactions committed (a chunk with nothing left to purge commits none)
	Horizon Horizon // the store's horizon after the last chunk
	Elapsed time.Duration
}

// Purge removes the tombstones deleted before the stamp before, together
// with their change-log entries, and records the store's horizon (see
// Horizon). It scans the store in one View, then removes the tombstones in
// chunks of PurgeOptions.Chunk, each in a write transaction of its own that
// checks every tombstone again; other writers run between chunks. If ctx
// ends, Purge stops after the running chunk and returns what it did with
// ctx's error: every committed chunk stands, and a later Purge goes on.
// Close stops it the same way (anchor.ErrClosed).
//
// before must be older than every delete that some replica of this store
// has not imported yet: such a replica can only be rebuilt afterwards
// (replica.ErrPurged). A zero before is refused with anchor.ErrInvalid.
func (e *Engine) Purge(ctx context.Context, before anchor.HLC, opts *PurgeOptions) (PurgeStats, error) {
	start := time.Now()
	var st PurgeStats
	o, err := opts.withDefaults()
	if err != nil {
		return st, err
	}
	if before == 0 {
		return st, fmt.Errorf("purge: %w: no horizon given (tombstones deleted before which stamp?)", anchor.ErrInvalid)
	}
	if err := e.enter("purge"); err != nil {
		return st, err
	}
	defer e.inflight.Done()
	if e.info.ReadOnly {
		return st, fmt.Errorf("purge: %s: %w", e.name, anchor.ErrReadOnly)
	}
	var ids []anchor.ID
	err = e.d.View(ctx, func(v Snapshot) error {
		var herr error
		st.Horizon, herr = ReadHorizon(v)
		if herr != nil {
			return herr
		}
		var replicated map[anchor.ID]bool // nil: no bound
		if o.Replicated > 0 {
			replicated = make(map[anchor.ID]bool)
			err := v.Changes(0, func(seq uint64, id anchor.ID) error {
				if seq > o.Replicated {
					return errStop
				}
				replicated[id] = true
				return nil
			})
			if err != nil && !errors.Is(err, errStop) {
				return err
			}
		}
		return v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
			if err == nil && !a.Live() && a.Deleted < before && (replicated == nil || replicated[id]) {
				ids = append(ids, id)
			}
			return ctx.Err()
		})
	})
	if err != nil {
		return st, fmt.Errorf("purge: scan %s: %w", e.name, err)
	}
	st.Candidates = len(ids)
	for len(ids) > 0 {
		if err := ctx.Err(); err != nil {
			st.Elapsed = time.Since(start)
			return st, err
		}
		if e.closing() {
			st.Elapsed = time.Since(start)
			return st, fmt.Errorf("purge: %s: %w after %d of %d tombstones", e.name, anchor.ErrClosed, st.Purged, st.Candidates)
		}
		n := min(o.Chunk, len(ids))
		purged, h, err := e.purgeChunk(ctx, ids[:n], before, o.Replicated)
		if err != nil {
			st.Elapsed = time.Since(start)
			return st, fmt.Errorf("purge: %s: %w", e.name, err)
		}
		st.Purged += purged
		st.Kept += n - purged
		if purged > 0 {
			st.Chunks++
		}
		st.Horizon = h
		ids = ids[n:]
		if o.Progress != nil {
			st.Elapsed = time.Since(start)
			o.Progress(st)
		}
	}
	st.Elapsed = time.Since(start)
	return st, nil
}

// purgeChunk runs one chunk's transaction, again after a lock conflict
// while ctx allows.
func (e *Engine) purgeChunk(ctx context.Context, ids []anchor.ID, before anchor.HLC, replicated uint64) (int, Horizon, error) {
	begun := time.Now()
	for attempt := 0; ; attempt++ {
		n, h, err := e.purgeTx(ctx, ids, before, replicated)
		if !errors.Is(err, ErrRetry) {
			return n, h, err
		}
		e.busy.Add(1)
		if e.closeCtx.Err() != nil {
			return 0, h, fmt.Errorf("%w while another connection held the store", anchor.ErrClosed)
		}
		if !Backoff(ctx, e.opts.MaxBackoff, attempt) {
			return 0, h, &BusyError{Op: "purge", Path: e.name, Waited: time.Since(begun), Err: ctx.Err()}
		}
	}
}

// errStop ends a scan early.
var errStop = errors.New("stop")

// purgeTx removes, in one write transaction, the tombstones of ids that
// are still deleted before the horizon and, if nodes, hold no adjacency
// rows, and raises the store's recorded horizon with them. With
// replicated set, a tombstone logged again past it since the scan makes
// the chunk fail (with anchor.ErrConflict) and write nothing.
func (e *Engine) purgeTx(ctx context.Context, ids []anchor.ID, before anchor.HLC, replicated uint64) (n int, h Horizon, err error) {
	select {
	case e.wsem <- struct{}{}:
	case <-ctx.Done():
		return 0, h, ctx.Err()
	case <-e.closeCtx.Done():
		return 0, h, fmt.Errorf("%w", anchor.ErrClosed)
	}
	defer func() { <-e.wsem }()
	tx, err := e.d.Begin(ctx)
	if err != nil {
		return 0, h, err
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	if err := tx.Prefetch(ids); err != nil {
		return 0, h, unwrapWrite(err)
	}
	var gone []anchor.ID
	for _, id := range ids {
		a, err := tx.Anchor(id)
		if errors.Is(err, anchor.ErrNotFound) {
			continue
		}
		if err != nil {
			return 0, h, unwrapWrite(err)
		}
		if a.Live() || a.Deleted >= before {
			continue
		}
		if a.Kind == anchor.KindNode {
			held := false
			err := delta.Adjacent(tx, id, func(anchor.Adj) error { held = true; return errStop })
			if err != nil && !errors.Is(err, errStop) {
				return 0, h, unwrapWrite(err)
			}
			if held {
				continue
			}
		}
		gone = append(gone, id)
	}
	raw, err := tx.Meta(HorizonKey)
	if err != nil {
		return 0, h, unwrapWrite(err)
	}
	if h, err = decodeHorizon(raw); err != nil {
		return 0, h, err
	}
	if len(gone) == 0 {
		return 0, h, nil
	}
	seq, err := tx.Purge(gone)
	if err != nil {
		return 0, h, unwrapWrite(err)
	}
	if replicated > 0 && seq > replicated {
		return 0, h, fmt.Errorf("%w: a tombstone was logged again, at sequence %d past the replicated %d, while the purge ran; run it again", anchor.ErrConflict, seq, replicated)
	}
	h = Horizon{Before: max(h.Before, before), Seq: max(h.Seq, seq)}
	if err := tx.PutMeta(HorizonKey, h.encode()); err != nil {
		return 0, h, unwrapWrite(err)
	}
	if err := tx.Commit(); err != nil {
		return 0, h, err
	}
	committed = true
	return len(gone), h, nil
}

// unwrapWrite returns the driver error a *delta.WriteError carries (the
// transaction cannot go on), or err.
func unwrapWrite(err error) error {
	var we *delta.WriteError
	if errors.As(err, &we) {
		return we.Err
	}
	return err
}

// closing reports whether Close has begun.
func (e *Engine) closing() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.closed
}
