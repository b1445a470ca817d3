package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// The idx table (schema 3) holds delta's secondary-index entries, k -> v.
// Each value carries delta's own checksum of key and value, checked by
// delta on every read, so the table needs no crc column.
const (
	sqlIndex = `SELECT k, v FROM idx WHERE k >= ?1 AND k < ?2 ORDER BY k`
	// sqlIndexFrom is sqlIndex without its upper bound, which a View's
	// scanner checks itself (see scan.go).
	sqlIndexFrom = `SELECT k, v FROM idx WHERE k >= ?1 ORDER BY k`
	sqlPutIndex  = `INSERT OR REPLACE INTO idx (k, v) VALUES (?, ?)`
	sqlDelIndex  = `DELETE FROM idx WHERE k = ?`
)

// scanIndex calls fn for each entry through stmt (a prepared sqlIndex). An
// error of fn is returned as it is (stop is set), so a caller can tell it
// from a database error.
func scanIndex(ctx context.Context, stmt *sql.Stmt, prefix, after []byte, fn func(k, v []byte) error) (err error, stop bool) {
	lo, hi := delta.IndexRange(prefix, after)
	rows, err := stmt.QueryContext(ctx, lo, hi)
	if err != nil {
		return err, false
	}
	defer rows.Close()
	var k, v sql.RawBytes // fn's k and v are valid only during the call: no copies
	for rows.Next() {
		if err := rows.Scan(&k, &v); err != nil {
			return err, false
		}
		if err := fn(k, v); err != nil {
			return err, true
		}
	}
	return rows.Err(), false
}

// Index streams index entries; fn must not use the transaction.
func (t *wtx) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	if t.err != nil {
		return t.err
	}
	err, stop := scanIndex(t.ctx, t.w.index, prefix, after, fn)
	if err != nil && !stop {
		return t.fail(err)
	}
	return err
}

func (t *wtx) PutIndex(k, v []byte) error { return t.exec(t.w.putIndex, k, v) }

func (t *wtx) DeleteIndex(k []byte) error { return t.exec(t.w.delIndex, k) }

// Index streams index entries through a scanner (scan.go), or through
// database/sql if the view's connection has no handle for one.
func (v *view) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	err, stop := v.scan(prefix, after, fn)
	if errors.Is(err, errNoHandle) {
		err, stop = scanIndex(v.ctx, v.stmt(v.s.r.index), prefix, after, fn)
	}
	if err != nil && !stop {
		return v.err("index", err)
	}
	return err
}

// Lock does nothing: a write transaction holds the database (BEGIN
// IMMEDIATE), so no other runs beside it.
func (t *wtx) Lock(anchor.ID) error { return nil }
