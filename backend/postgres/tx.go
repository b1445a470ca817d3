package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// Begin starts a READ COMMITTED write transaction, takes the store lock in
// shared mode and reads the store's persisted clock, in one round trip.
// The shared store lock waits only while a transaction that escalated
// (escalate.go) holds it exclusively; otherwise each read of the
// transaction locks what it reads (see wtx), and only the final statement
// before COMMIT touches the shared meta row. A lock conflict (a lock held
// past LockTimeout, a serialisation failure, a deadlock) is reported
// wrapping backend.ErrRetry; the engine runs the transaction again.
func (s *driver) Begin(ctx context.Context) (backend.Tx, error) {
	if ctx.Err() != nil {
		// Nobody may wait any longer (the store is closing), but the
		// writes were taken: commit them if a connection is free soon.
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		ctx = c
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, s.classify(err, nil)
	}
	// From here on the transaction runs to its end whatever the callers'
	// contexts do, so that its answer is the truth; LockTimeout bounds
	// each wait for a lock.
	w := &wtx{s: s, ctx: context.Background(), conn: conn, held: make(map[anchor.ID]*heldAnchor), kv: make(map[string]bool)}
	lock := ""
	if s.storeWide {
		lock = " FOR UPDATE" // the design before issue 12, kept for comparison benchmarks
	}
	var hlc int64
	b := &pgx.Batch{}
	b.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, s.storeLockKey()) // see escalate.go
	b.Queue(`SELECT hlc FROM ` + s.t.meta + ` WHERE id = 1` + lock).QueryRow(func(r pgx.Row) error { return r.Scan(&hlc) })
	if err := conn.SendBatch(w.ctx, b).Close(); err != nil {
		err = s.classify(err, conn.Conn())
		w.Rollback()
		return nil, err
	}
	w.clock = anchor.HLC(hlc)
	w.floor = max(w.clock, anchor.HLC(s.lastSet.Load()))
	return w, nil
}

// BeginTakesNoLock reports whether Begin waits for no other connection's
// lock in the ordinary course: true, unless the store-wide lock of the
// design before issue 12 is on (comparison benchmarks), which Begin takes.
// (The shared store lock Begin takes waits only behind a transaction that
// escalated, escalate.go; that wait ends after LockTimeout as
// backend.ErrRetry, which the engine counts as a lock conflict.)
func (s *driver) BeginTakesNoLock() bool { return !s.storeWide }

// wtx is the delta.Tx of a write transaction, on one pooled connection.
//
// Locks: every read of an anchor first takes a transaction-scoped shared
// advisory lock on its ID, then reads the row in a statement of its own,
// so it sees every transaction that wrote the anchor before. Writing an
// anchor takes the exclusive lock without waiting (pg_try_advisory_xact_lock;
// a create is locked by its new row, inserted only if absent):
// if another transaction holds the anchor, even only to check it, the
// write fails with backend.ErrRetry and the engine runs it again. So
// transactions that only check a common anchor (edges added to one root
// check the root) run side by side; a transaction that writes an anchor
// runs alone on it, and nothing it read can change before it commits;
// transactions on disjoint anchors never wait for each other. delta.Apply
// reads every anchor it writes or checks, including an edge's endpoints
// (a connect reads both under their shared locks and writes neither). A
// node's edges are its edge index entries, and a read of all of them (a
// cascade delete's, delta.Adjacent) takes the node's exclusive lock
// before it reads (index.go): a connect to the node that holds the
// shared lock fails the delete (backend.ErrRetry; it runs again and sees
// the edge), one that committed before is seen by the read, and one that
// comes after waits for the delete to end and finds a tombstone. So a
// node's delete sees every edge it must take with it. A transaction waits only
// for shared locks, behind a writer that is about to commit; a cycle of
// such waits is a deadlock, which PostgreSQL detects and the engine
// retries. Small meta values (import cursors, index declarations) are
// locked shared to read and exclusively (waiting) to write.
//
// Round trips: writes are queued and sent in the same pipelined round trip
// as the next read; an anchor read or written earlier in the transaction
// is answered from memory (the transaction holds its lock); the last
// writes and the change log go in one round trip, then COMMIT.
type wtx struct {
	s    *driver
	ctx  context.Context
	conn *pgxpool.Conn // nil once the transaction ended

	clock    anchor.HLC // the store's persisted clock when the transaction began
	floor    anchor.HLC // the greatest stamp the engine may have issued before its next stamp
	newClock anchor.HLC
	logged   []anchor.ID
	pending  pgx.Batch // statements to send with the next round trip
	buf      writes    // anchor and index writes, sent after pending (writes.go)
	// locks counts the anchor (and meta key) locks taken; past
	// Options.EscalateLocks the transaction holds the store lock
	// exclusively instead (escalated) and takes no more (escalate.go).
	locks     int
	escalated bool
	nestLoop  bool // hash and merge joins are off (writes.queue)
	// held maps each anchor this transaction locked to its record as the
	// transaction sees it (nil: absent), and whether the lock is exclusive.
	held map[anchor.ID]*heldAnchor
	// kv maps each meta key the transaction locked to whether exclusively.
	kv map[string]bool
	// listed holds the edges a read of a node's whole adjacency listed
	// (index.go) that the transaction has not read yet: the first read of
	// one reads them all (Prefetch), as a cascade reads every one.
	listed map[anchor.ID]bool
}

// heldAnchor is an anchor locked by the transaction.
type heldAnchor struct {
	rec       []byte // nil: no such anchor
	read      bool   // rec holds the anchor as this transaction sees it
	exclusive bool
}

// Clock returns the store's persisted clock as of Begin: the greatest
// stamp any transaction that committed before this one began wrote.
func (w *wtx) Clock() (anchor.HLC, error) { return w.clock, nil }

// SetClock records h to be folded into the store's persisted clock
// (greatest of the stored value and h) at commit.
func (w *wtx) SetClock(h anchor.HLC) error {
	w.newClock = max(w.newClock, h)
	return nil
}

// take returns the queued writes as a batch to which a read can be added.
func (w *wtx) take() *pgx.Batch {
	b := w.pending
	w.pending = pgx.Batch{}
	w.buf.queue(&b, w.s.t, &w.nestLoop)
	return &b
}

// send runs b (queued writes and a read) in one round trip. Any failure
// leaves the transaction unusable, so it is a *delta.WriteError: the
// engine rolls back, and retries when it wraps backend.ErrRetry.
func (w *wtx) send(b *pgx.Batch) error {
	if err := w.conn.SendBatch(w.ctx, b).Close(); err != nil {
		return &delta.WriteError{Err: w.s.classify(err, w.conn.Conn())}
	}
	return nil
}

// Anchor locks id (shared) and reads it. A record stamped later than
// anything the engine's clock had observed when the transaction began was
// committed by a concurrent transaction after this one began: the stamp
// this transaction writes with might not exceed it, so it fails with
// backend.ErrRetry and runs again with the clock observing it.
func (w *wtx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	if h, ok := w.held[id]; ok && h.read {
		if h.rec == nil {
			return nil, &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
		}
		return anchor.Unmarshal(id, h.rec)
	}
	if w.listed[id] {
		if err := w.prefetchListed(); err != nil {
			return nil, err
		}
		return w.Anchor(id)
	}
	b := w.take()
	if w.room(b, 1) {
		b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, w.s.lockKey(id[:]))
	}
	var rec []byte
	b.Queue(`SELECT rec FROM `+w.s.t.anchors+` WHERE id = $1`, id[:]).QueryRow(func(r pgx.Row) error {
		if err := r.Scan(&rec); !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return nil
	})
	if err := w.send(b); err != nil {
		return nil, err
	}
	h := w.held[id]
	if h == nil {
		h = &heldAnchor{}
		w.held[id] = h
	}
	h.rec, h.read = rec, true
	if rec == nil {
		return nil, &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
	}
	a, err := anchor.Unmarshal(id, rec)
	if err != nil {
		return nil, err
	}
	if st := maxStamp(a); st > w.floor {
		return nil, &delta.WriteError{Err: fmt.Errorf("%w: anchor %s stamped %s by a transaction that committed after this one began", backend.ErrRetry, id, st)}
	}
	return a, nil
}

// Meta locks key (shared) and returns its value, or nil. Every write
// transaction reads the store's index declarations this way, so the lock
// is shared: an exclusive one would run every write transaction of the
// store one at a time, and would close a cycle with a transaction waiting
// to escalate (escalate.go). PutMeta takes the exclusive lock.
func (w *wtx) Meta(key string) ([]byte, error) {
	b := w.take()
	if _, ok := w.kv[key]; !ok && w.room(b, 1) {
		w.kv[key] = false
		b.Queue(`SELECT pg_advisory_xact_lock_shared($1)`, w.s.lockKey([]byte("kv:"+key)))
	}
	var v []byte
	b.Queue(`SELECT value FROM `+w.s.t.kv+` WHERE key = $1`, key).QueryRow(func(r pgx.Row) error {
		if err := r.Scan(&v); !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return nil
	})
	if err := w.send(b); err != nil {
		return nil, err
	}
	return v, nil
}

// PutMeta queues the write of key after its exclusive lock, waiting for
// transactions that read it to end: of two that read and then write one
// key (an import cursor), one then waits for the other, a deadlock
// PostgreSQL detects and the engine retries.
func (w *wtx) PutMeta(key string, value []byte) error {
	if excl, read := w.kv[key]; !excl {
		w.kv[key] = true
		// A key read is already counted; room takes none once escalated.
		if !w.escalated && (read || w.room(&w.pending, 1)) {
			w.pending.Queue(`SELECT pg_advisory_xact_lock($1)`, w.s.lockKey([]byte("kv:"+key)))
		}
	}
	w.pending.Queue(`INSERT INTO `+w.s.t.kv+` (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, value)
	return nil
}

// PutAnchor queues a's record, after the exclusive lock on it (a create
// needs none: see below). The stamps
// it carries were issued by the engine for this transaction (or merged
// from a remote replica), so later reads of a in this transaction accept
// them.
func (w *wtx) PutAnchor(a *anchor.Anchor) error {
	rec, vals, err := w.marshal(a) // values.go
	if err != nil {
		return err
	}
	w.floor = max(w.floor, maxStamp(a))
	if h := w.held[a.ID]; h != nil && h.read && h.rec == nil && !h.exclusive {
		// A create: the row itself is the lock. No other transaction can
		// see or change it before this one commits, and a concurrent create
		// of the same ID inserts nothing (then both cannot have read it
		// absent in order: retry, and meet it as it stands).
		h.rec, h.exclusive = rec, true
		w.queueValues(vals) // values.go
		w.buf.creates.put(a.ID, a.Kind, rec)
		return nil
	}
	h := w.held[a.ID]
	if h == nil {
		h = &heldAnchor{}
		w.held[a.ID] = h
	}
	if !h.exclusive {
		h.exclusive = true
		if w.room(&w.pending, 1) {
			w.buf.lock(w.s.lockKey(a.ID[:]), a.ID)
		}
	}
	h.rec, h.read = rec, true
	w.queueValues(vals)
	if w.buf.creates.has(a.ID) {
		w.buf.creates.put(a.ID, a.Kind, rec) // created in this round trip: still a create
	} else {
		w.buf.puts.put(a.ID, a.Kind, rec)
	}
	return nil
}

// exclusive queues on b the exclusive lock on id, unless the transaction
// holds it: taken without waiting, and failing the batch with
// backend.ErrRetry if another transaction holds id.
func (w *wtx) exclusive(b *pgx.Batch, id anchor.ID) {
	h := w.held[id]
	if h == nil {
		h = &heldAnchor{}
		w.held[id] = h
	}
	if h.exclusive {
		return
	}
	h.exclusive = true
	if !w.room(b, 1) {
		return
	}
	b.Queue(`SELECT pg_try_advisory_xact_lock($1)`, w.s.lockKey(id[:])).QueryRow(func(r pgx.Row) error {
		var ok bool
		if err := r.Scan(&ok); err != nil || ok {
			return err
		}
		return fmt.Errorf("%w: anchor %s is held by another transaction", backend.ErrRetry, id)
	})
}

// Logged records that id changed; its sequence number is given at commit.
func (w *wtx) Logged(id anchor.ID) error {
	w.logged = append(w.logged, id)
	return nil
}

// Rollback ends the transaction and returns its connection to the pool
// (which closes a connection left inside a transaction). It is harmless
// after Commit or a second Rollback.
func (w *wtx) Rollback() error {
	if w.conn == nil {
		return nil
	}
	if !w.conn.Conn().IsClosed() && w.conn.Conn().PgConn().TxStatus() != 'I' {
		w.conn.Exec(context.Background(), `ROLLBACK`) //nolint:errcheck // a broken connection is closed by Release
	}
	w.conn.Release()
	w.conn = nil
	return nil
}

// Prefetch locks (shared) and reads, in one round trip, every anchor of
// ids the transaction does not hold yet; later reads of them are answered
// from memory. It takes the locks in key order, so transactions that
// prefetch what they read never deadlock on each other; when ids are more
// than the transaction may lock, it escalates instead (escalate.go). It is
// the read a whole group needs at once, for an engine that knows its
// group's anchors.
func (w *wtx) Prefetch(ids []anchor.ID) error {
	type want struct {
		key int64
		id  anchor.ID
	}
	var ws []want
	for _, id := range ids {
		if h, ok := w.held[id]; !ok || !h.read {
			if !ok {
				w.held[id] = &heldAnchor{}
			}
			w.held[id].read = true // absent unless read below
			ws = append(ws, want{w.s.lockKey(id[:]), id})
		}
	}
	if len(ws) == 0 {
		return nil
	}
	b := w.take()
	if w.room(b, len(ws)) {
		slices.SortFunc(ws, func(a, b want) int { return cmp.Compare(a.key, b.key) })
		keys := make([]int64, len(ws))
		for i, x := range ws {
			keys[i] = x.key
		}
		b.Queue(`SELECT count(pg_advisory_xact_lock_shared(k)) FROM unnest($1::bigint[]) AS k`, keys)
	}
	raw := make([][]byte, len(ws))
	for i, x := range ws {
		raw[i] = x.id[:]
	}
	var bad error
	b.Queue(`SELECT id, rec FROM `+w.s.t.anchors+` WHERE id = ANY($1::bytea[])`, raw).Query(func(rows pgx.Rows) error {
		defer rows.Close()
		for rows.Next() {
			var idb, rec []byte
			if err := rows.Scan(&idb, &rec); err != nil {
				return err
			}
			id, err := anchor.IDFromBytes(idb)
			if err != nil {
				return fmt.Errorf("%w: anchor key of %d bytes", anchor.ErrCorrupt, len(idb))
			}
			w.held[id].rec = rec
			if a, err := anchor.Unmarshal(id, rec); err == nil && maxStamp(a) > w.floor && bad == nil {
				bad = fmt.Errorf("%w: anchor %s stamped %s by a transaction that committed after this one began", backend.ErrRetry, id, maxStamp(a))
			}
		}
		return rows.Err()
	})
	if err := w.send(b); err != nil {
		return err
	}
	if bad != nil {
		return &delta.WriteError{Err: bad}
	}
	return nil
}
