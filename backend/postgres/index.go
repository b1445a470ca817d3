package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// The idx table (layout 2) holds delta's secondary-index entries, k -> v;
// each value carries delta's checksum of key and value.

func (t tables) indexScan() string {
	return `SELECT k, v FROM ` + t.idx + ` WHERE k >= $1 AND k < $2 ORDER BY k`
}

// collectIndex reads (k, v) rows and closes rows.
func collectIndex(rows pgx.Rows) (ks, vs [][]byte, err error) {
	defer rows.Close()
	for rows.Next() {
		var k, v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return nil, nil, err
		}
		ks, vs = append(ks, k), append(vs, v)
	}
	return ks, vs, rows.Err()
}

func callIndex(ks, vs [][]byte, fn func(k, v []byte) error) error {
	for i := range ks {
		if err := fn(ks[i], vs[i]); err != nil {
			return err
		}
	}
	return nil
}

// Index reads the entries in a statement of its own, so it sees every
// transaction that committed before it.
func (r *rtx) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	lo, hi := delta.IndexRange(prefix, after)
	rows, err := r.q.Query(r.ctx, r.s.t.indexScan(), lo, hi)
	if err != nil {
		return err
	}
	ks, vs, err := collectIndex(rows)
	if err != nil {
		return err
	}
	return callIndex(ks, vs, fn)
}

// Index reads entries (with the queued writes, in one round trip) as
// committed by every transaction that ended before the statement.
func (w *wtx) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	lo, hi := delta.IndexRange(prefix, after)
	b := w.take()
	var ks, vs [][]byte
	b.Queue(w.s.t.indexScan(), lo, hi).Query(func(rows pgx.Rows) error {
		var err error
		ks, vs, err = collectIndex(rows)
		return err
	})
	if err := w.send(b); err != nil {
		return err
	}
	return callIndex(ks, vs, fn)
}

// PutIndex inserts k. A plain INSERT: when another transaction stored k
// (a unique value or create-once edge taken meanwhile), the statement
// waits for it and fails with unique_violation, which classify reports as
// backend.ErrRetry; the engine runs the write again and delta.Apply then
// sees the entry.
func (w *wtx) PutIndex(k, v []byte) error {
	w.pending.Queue(`INSERT INTO `+w.s.t.idx+` (k, v) VALUES ($1, $2)`, k, v)
	return nil
}

func (w *wtx) DeleteIndex(k []byte) error {
	w.pending.Queue(`DELETE FROM `+w.s.t.idx+` WHERE k = $1`, k)
	return nil
}

// Lock takes id's exclusive lock with the next round trip, without waiting
// (see wtx): another transaction holding id fails this one with
// backend.ErrRetry.
func (w *wtx) Lock(id anchor.ID) error {
	w.exclusive(&w.pending, id)
	return nil
}
