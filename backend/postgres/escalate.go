package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// Lock escalation.
//
// Each anchor a write transaction reads or writes costs one advisory lock,
// and PostgreSQL keeps every lock of every open transaction in one shared
// table of max_locks_per_transaction × (max_connections +
// max_prepared_transactions) entries (6,400 with the defaults): a cascade
// delete of a hub with 10^5 edges ran out of it ("out of shared memory")
// and failed whatever the caller's context allowed.
//
// So every write transaction takes, in Begin's round trip, the store
// lock, a store-wide advisory lock, in shared mode: one cheap lock per
// transaction, which never conflicts with another shared holder. A
// transaction that would hold more than Options.EscalateLocks anchor
// locks takes the store lock in exclusive mode instead (it waits for the
// transactions running beside it to end, and transactions that begin
// after it wait in Begin), and from then on takes no more anchor locks:
// no other write transaction can run until it ends, so nothing it reads
// can change. A big transaction thus holds a handful of locks, and
// excludes other writers of the store for as long as it runs, rather
// than exhausting the lock table (which would fail other transactions of
// the database too). Their writes wait in Begin (each wait bounded by
// LockTimeout, then retried by the engine while their callers' contexts
// allow): they are delayed, never failed, by the big one.
//
// A transaction escalates before it takes the locks it would need where it
// can tell: Prefetch (a group's reads, known at once) and a read of a
// node's whole adjacency (Index: the node's edge entries, counted before
// the node's exclusive lock is taken). Until
// then it holds only shared locks (anchors, meta values), on which no
// other transaction waits (exclusive anchor locks are taken without
// waiting; only a meta value's writer, an import or a Declare, waits for
// its readers), so its wait for the store lock closes no cycle. One that
// grows past the bound later escalates there; a cycle through its
// exclusive locks is a deadlock PostgreSQL detects, and the engine runs
// the victim again.

// DefaultEscalateLocks is Options.EscalateLocks's default: 8 connections
// of a process at the bound hold 4,096 locks, well within the default
// server's table.
const DefaultEscalateLocks = 512

// storeLockKey is the advisory lock key of the store lock.
func (s *driver) storeLockKey() int64 { return s.lockKey([]byte("anchorage:store-lock")) }

// escalate queues on b the store lock in exclusive mode, unless the
// transaction holds it.
func (w *wtx) escalate(b *pgx.Batch) {
	if w.escalated {
		return
	}
	w.escalated = true
	w.s.escalations.Add(1)
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, w.s.storeLockKey())
}

// room reports whether the transaction may take n more anchor locks
// without escalating; it escalates on b when it may not. A transaction
// that escalated needs no anchor lock.
func (w *wtx) room(b *pgx.Batch, n int) bool {
	if !w.escalated && w.locks+n > w.s.opts.EscalateLocks {
		w.escalate(b)
	}
	if w.escalated {
		return false
	}
	w.locks += n
	return true
}

// escalateForEdges queues on b a statement that takes the store lock in
// exclusive mode if node has more edge entries (prefix: all of them, see
// Index) than the transaction may still lock, and records whether it did
// once b was sent (the rows callback). It is queued before the node's
// exclusive lock, and only once per node.
func (w *wtx) escalateForEdges(b *pgx.Batch, prefix []byte, node anchor.ID) {
	if w.escalated {
		return
	}
	if h := w.held[node]; h != nil && h.exclusive {
		// An earlier chunk of this read took the node (and counted its
		// edges), or a write of the node did: then the edges' own locks
		// escalate, if they must, when they are read (Prefetch).
		return
	}
	lo, hi := delta.IndexRange(prefix, nil)
	limit := max(1, w.s.opts.EscalateLocks-w.locks)
	b.Queue(`SELECT pg_advisory_xact_lock($3) FROM (SELECT count(*) AS n FROM (SELECT 1 FROM `+w.s.t.idx+`
		WHERE k >= $1 AND k < $2 LIMIT $4) AS r) AS c WHERE c.n >= $4`, lo, hi, w.s.storeLockKey(), limit).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			w.escalated = true
			w.s.escalations.Add(1)
		}
		return rows.Err()
	})
}
