package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
)

// Compacter is implemented by a Driver that can give the space of deleted
// data back to storage while the store is open (SQLite's VACUUM,
// PostgreSQL's VACUUM). Engine.Compact calls it with no write transaction
// of the engine open.
type Compacter interface {
	Compact(ctx context.Context) error
}

// ErrNoCompact: the store cannot be compacted while it is open through
// this engine (bolt: close it and compact the file with bolt.Compact).
var ErrNoCompact = errors.New("anchorage: this backend cannot compact an open store")

// CompactStats reports a compaction: the bytes the store occupied on
// storage (Size) before and after.
type CompactStats struct {
	Before, After int64
	Elapsed       time.Duration
}

// Compact gives the space of deleted data (purged tombstones, say) back to
// storage, through the driver's Compacter; other writers of this engine
// wait until it ends. A driver without one yields an error wrapping
// ErrNoCompact.
func (e *Engine) Compact(ctx context.Context) (CompactStats, error) {
	start := time.Now()
	var st CompactStats
	if err := e.enter("compact"); err != nil {
		return st, err
	}
	defer e.inflight.Done()
	if e.info.ReadOnly {
		return st, fmt.Errorf("compact: %s: %w", e.name, anchor.ErrReadOnly)
	}
	c, ok := e.d.(Compacter)
	if !ok {
		return st, fmt.Errorf("compact: %s: %w", e.name, ErrNoCompact)
	}
	var err error
	if st.Before, err = e.d.Size(ctx); err != nil {
		return st, err
	}
	select {
	case e.wsem <- struct{}{}:
	case <-ctx.Done():
		return st, ctx.Err()
	}
	err = c.Compact(ctx)
	<-e.wsem
	if err != nil {
		return st, fmt.Errorf("compact: %s: %w", e.name, err)
	}
	st.After, err = e.d.Size(ctx)
	st.Elapsed = time.Since(start)
	return st, err
}
