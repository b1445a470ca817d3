package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/anchorage-db/anchorage/anchor"
)

// Commit sends the queued writes and the change log in one pipelined
// round trip, then COMMIT.
//
// The change log is numbered by the last statement of the batch; the
// package documentation says why a reader never skips or repeats a change
// (TestChangeLogFollowers holds it to that).
func (w *wtx) Commit() error {
	b := w.take()
	h := max(w.clock, w.newClock)
	if ids := latestFirst(w.logged); len(ids) > 0 {
		b.Queue(`WITH c AS (UPDATE `+w.s.t.meta+` SET seq = seq + $1, hlc = greatest(hlc, $2) WHERE id = 1 RETURNING seq)
			INSERT INTO `+w.s.t.log+` (id, seq) SELECT u.id, c.seq - $1 + u.ord FROM c, unnest($3::bytea[]) WITH ORDINALITY AS u(id, ord)
			ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq`, int64(len(ids)), int64(h), ids)
	} else if w.newClock > w.clock {
		b.Queue(`UPDATE `+w.s.t.meta+` SET hlc = greatest(hlc, $1) WHERE id = 1`, int64(h))
	}
	if err := w.conn.SendBatch(w.ctx, b).Close(); err != nil {
		err = w.s.classify(err, w.conn.Conn()) // COMMIT was not sent: nothing landed
		w.Rollback()
		return err
	}
	// COMMIT goes alone, as text, so that a proxy (or a reader of the
	// server's log) sees it.
	tag, err := w.conn.Exec(w.ctx, `COMMIT`)
	var pe *pgconn.PgError
	switch {
	case err == nil && tag.String() != "COMMIT":
		err = fmt.Errorf("anchorage: postgres commit ended as %q", tag.String())
	case err == nil:
		w.conn.Release()
		w.conn = nil
		for old := w.s.lastSet.Load(); uint64(h) > old && !w.s.lastSet.CompareAndSwap(old, uint64(h)); old = w.s.lastSet.Load() {
		}
		return nil
	case errors.As(err, &pe) && !fatal(pe):
		// The server refused COMMIT (an ERROR): nothing landed.
		err = w.s.classify(err, w.conn.Conn())
	default:
		// The connection was lost, or the server ended the session (FATAL:
		// a shutdown, a dead postmaster), while COMMIT was in flight: the
		// transaction may have committed, here and on the standby that
		// becomes primary, or not. (Not even pgconn.SafeToRetry tells: a
		// COMMIT answered "conn closed", which it calls safe to retry, has
		// been seen to land when the server was killed under it.)
		w.s.lost()
		err = fmt.Errorf("anchorage: postgres commit: %w: %w", anchor.ErrOutcomeUnknown, err)
	}
	w.Rollback()
	return err
}

// latestFirst returns ids without repeats, each at its last position, as
// byte slices: an anchor logged twice in a transaction is logged once, at
// its latest write.
func latestFirst(ids []anchor.ID) [][]byte {
	seen := make(map[anchor.ID]bool, len(ids))
	var out [][]byte
	for i := len(ids) - 1; i >= 0; i-- {
		if !seen[ids[i]] {
			seen[ids[i]] = true
			out = append(out, ids[i][:])
		}
	}
	slices.Reverse(out)
	return out
}

// lockKey is the advisory lock key of an anchor ID (or a meta key) in this
// store: its random bits mixed with the schema's hash, so that stores in
// different schemas of one database rarely share keys (a shared key only
// makes two writers wait for each other).
func (s *driver) lockKey(key []byte) int64 {
	h := fnv.New64a()
	h.Write([]byte(s.opts.Schema))
	h.Write([]byte{0})
	h.Write(key)
	return int64(binary.BigEndian.Uint64(h.Sum(nil)))
}

// maxStamp is the greatest stamp a record carries.
func maxStamp(a *anchor.Anchor) anchor.HLC {
	m := max(a.Created, a.Updated, a.Deleted)
	for _, f := range a.Fields {
		m = max(m, f.Stamp)
	}
	for _, mk := range a.AccessStamps {
		m = max(m, mk.At)
	}
	return m
}
