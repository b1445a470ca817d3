package postgres

import (
	"bytes"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// The idx table (layout 2) holds delta's secondary-index entries, k -> v;
// each value carries delta's checksum of key and value.

// indexChunk is how many entries one statement of a scan reads: a scan
// that stops early (a page, a lookup) reads little more than it uses.
const indexChunk = 256

func (t tables) indexScan() string {
	return `SELECT k, v FROM ` + t.idx + ` WHERE k >= $1 AND k < $2 ORDER BY k LIMIT ` + strconv.Itoa(indexChunk)
}

// scanChunks calls fn for the entries in [lo, hi), reading them a chunk
// at a time with read (one statement each), and calling fn after each
// statement, so fn may query.
func scanChunks(lo, hi []byte, read func(lo, hi []byte) (ks, vs [][]byte, err error), fn func(k, v []byte) error) error {
	for {
		ks, vs, err := read(lo, hi)
		if err != nil {
			return err
		}
		if err := callIndex(ks, vs, fn); err != nil {
			return err
		}
		if len(ks) < indexChunk {
			return nil
		}
		lo = append(bytes.Clone(ks[len(ks)-1]), 0)
	}
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
	return scanChunks(lo, hi, func(lo, hi []byte) ([][]byte, [][]byte, error) {
		rows, err := r.q.Query(r.ctx, r.s.t.indexScan(), lo, hi)
		if err != nil {
			return nil, nil, err
		}
		return collectIndex(rows)
	}, fn)
}

// Index reads entries (with the queued writes, in one round trip) as
// committed by every transaction that ended before the statement.
func (w *wtx) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	lo, hi := delta.IndexRange(prefix, after)
	return scanChunks(lo, hi, func(lo, hi []byte) (ks, vs [][]byte, err error) {
		b := w.take()
		b.Queue(w.s.t.indexScan(), lo, hi).Query(func(rows pgx.Rows) error {
			ks, vs, err = collectIndex(rows)
			return err
		})
		if err := w.send(b); err != nil {
			return nil, nil, err
		}
		return ks, vs, err
	}, fn)
}

// PutIndex inserts k. A plain INSERT: when another transaction stored k
// (a unique value or create-once edge taken meanwhile), the statement
// waits for it and fails with unique_violation, which classify reports as
// backend.ErrRetry; the engine runs the write again and delta.Apply then
// sees the entry.
// Puts and deletes are buffered (writes.go) and sent as array statements,
// in order.
func (w *wtx) PutIndex(k, v []byte) error {
	w.buf.indexOp(false, k, v)
	return nil
}

func (w *wtx) DeleteIndex(k []byte) error {
	w.buf.indexOp(true, k, nil)
	return nil
}

// Lock takes id's exclusive lock with the next round trip, without waiting
// (see wtx): another transaction holding id fails this one with
// backend.ErrRetry.
func (w *wtx) Lock(id anchor.ID) error {
	w.exclusive(&w.pending, id)
	return nil
}
