package backend

import (
	"context"
	"errors"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// Driver is a backend's storage, all that the engine needs of it. Every
// method is required. The engine (Engine) owns everything else: the only
// call to delta.Apply, group commit, the HLC clock, retries of lock
// conflicts, the caller's context, and the store's lifecycle.
//
// A Driver is safe for concurrent use by the engine: at most one write
// transaction of an Engine is open at a time, while any number of Views
// run beside it.
type Driver interface {
	// Info returns the store's identity, read once when the driver opened.
	Info() Info
	// Begin starts a write transaction. While the store is locked by
	// another connection it waits no longer than ctx allows and its own
	// short lock timeout; it then fails with an error wrapping ErrRetry.
	Begin(ctx context.Context) (Tx, error)
	// View calls fn with a consistent read-only snapshot.
	View(ctx context.Context, fn func(Snapshot) error) error
	// Size returns the bytes the store occupies on storage.
	Size(ctx context.Context) (int64, error)
	// Close releases the driver. The engine calls it once, after every
	// transaction and View has ended.
	Close() error
}

// LockFreeBegin may be implemented by a driver whose Begin never waits for
// a lock that another connection holds (PostgreSQL: each statement of a
// transaction locks what it reads, and Begin reads no locked row; its
// shared store lock waits only behind a transaction that escalated, and
// that wait ends as ErrRetry). When
// BeginTakesNoLock reports true, the engine does not take a slow Begin
// (connecting, say, during a failover) for a wait on another connection's
// lock when it explains why a caller's deadline passed.
type LockFreeBegin interface {
	BeginTakesNoLock() bool
}

// Info is a store's fixed identity.
type Info struct {
	Schema    int       // on-disk schema version
	StoreID   anchor.ID // random, fixed at creation
	ReplicaID anchor.ID // breaks HLC ties between replicas
	ReadOnly  bool      // the driver opened the store read-only
}

// Tx is a driver's write transaction: the reads and writes delta.Apply
// plans, the store's persisted clock, and the end of the transaction.
//
// A Tx is used by one goroutine. An error wrapping ErrRetry from any
// method means the transaction met a lock conflict (SQLITE_BUSY, a
// PostgreSQL serialisation failure or deadlock): the engine rolls it back
// and runs it again while the callers' contexts allow.
type Tx interface {
	delta.Tx
	// FieldValue reads a field value that Anchor returned as a reference
	// (anchor.Field.Ref): a driver may keep large values out of line and
	// leave them unread, and PutAnchor keeps a field given as a reference
	// as stored. Views always return values.
	delta.ValueLoader
	// Clock returns the greatest HLC the store has persisted, as this
	// transaction sees it (other processes may have written since).
	Clock() (anchor.HLC, error)
	// Prefetch is told, before a group's writes run, every anchor they
	// will read first. A driver whose reads are round trips (PostgreSQL)
	// reads them all at once; a local one may do nothing.
	Prefetch(ids []anchor.ID) error
	// SetClock persists h as the store's clock with this transaction.
	SetClock(h anchor.HLC) error
	// Purge removes, with this transaction, each record of ids (header
	// and fields) together with its change-log entry and whatever index
	// the driver keeps of that entry, and returns the greatest sequence
	// number among the log entries it removed (0 if none). An ID with no
	// record is skipped. The store's sequence (Meta.Seq) stays as it is.
	// Only Engine.Purge calls it, for tombstones it has checked in this
	// transaction to have no adjacency rows.
	Purge(ids []anchor.ID) (maxSeq uint64, err error)
	// Commit makes the transaction durable. An error wrapping
	// anchor.ErrOutcomeUnknown says it may or may not have landed; any
	// other error, that nothing landed.
	Commit() error
	// Rollback ends the transaction without writing anything. It is
	// harmless after a failed Commit or a second Rollback.
	Rollback() error
}

// ErrRetry marks a driver error caused by a lock conflict with another
// connection: nothing landed and the same transaction may simply run
// again. The engine never returns it to a caller: it retries while the
// caller's context allows, then returns a *BusyError.
var ErrRetry = errors.New("anchorage: lock conflict, retry")
