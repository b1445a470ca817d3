package backend

import (
	"context"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// Store is a durable tier. Every backend's Open returns one (an *Engine
// over the backend's Driver); every write goes through Apply, which runs
// delta.Apply inside one write transaction.
//
// A Store is safe for concurrent use by any number of goroutines. After
// Close returns, every method returns an error wrapping anchor.ErrClosed.
type Store interface {
	// Apply writes w (a walker's *delta.Batch or a replication
	// *delta.Merge) atomically and durably. nil means the whole write
	// landed; an error means none of it did (except an error wrapping
	// anchor.ErrOutcomeUnknown, which says exactly that the outcome is
	// unknown). See Engine for what ctx means at each step.
	Apply(ctx context.Context, w delta.Write) (delta.Result, error)
	// View calls fn with a consistent read-only snapshot of committed state.
	// The View must not be used after fn returns.
	View(ctx context.Context, fn func(View) error) error
	// Size returns the bytes the store occupies on storage.
	Size(ctx context.Context) (int64, error)
	// Close releases the store. It waits for queued writes to be answered
	// and is idempotent.
	Close() error
}

// View is a consistent read-only snapshot of a store: the driver's
// Snapshot, with a node's adjacency read from the edge index.
//
// A View is used by one goroutine, only during the View callback.
type View interface {
	Snapshot
	// Adjacent calls fn for every edge of node (delta.Adjacent): grouped by
	// direction and edge type, each group in creation order.
	Adjacent(node anchor.ID, fn func(anchor.Adj) error) error
	// Adjacency calls fn for every adjacency row of the store (every end
	// of every live edge), in node order.
	Adjacency(fn func(anchor.Adj) error) error
}

// Snapshot is what a driver's read transaction offers: the records, the
// secondary-index entries (delta.Reader), the change log and the store's
// small values, all as of one consistent point.
//
// A Snapshot is used by one goroutine, only during the View callback.
type Snapshot interface {
	delta.Reader
	// Anchors calls fn for every stored record (tombstones included) in ID
	// order. A record that does not decode is passed with a nil anchor and
	// the decode error, so scans (Verify, export) can report it and go on.
	Anchors(fn func(id anchor.ID, a *anchor.Anchor, err error) error) error
	// Changes calls fn for each change-log entry with a sequence number
	// greater than after, in sequence order. Each anchor appears once, at
	// the sequence of its latest write.
	Changes(after uint64, fn func(seq uint64, id anchor.ID) error) error
	// MetaValue returns the small value a Merge stored under key (import
	// cursors), or nil.
	MetaValue(key string) ([]byte, error)
	// Meta describes the store.
	Meta() Meta
}

// Meta is a store's identity and clocks.
type Meta struct {
	Schema    int        // on-disk schema version
	StoreID   anchor.ID  // random, fixed at creation
	ReplicaID anchor.ID  // breaks HLC ties between replicas
	HLC       anchor.HLC // greatest stamp issued; persisted, never goes backwards
	Seq       uint64     // greatest change-log sequence number
}
