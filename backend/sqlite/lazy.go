package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// Field values of anchor.OutOfLine bytes or more live in the vals table
// (schema 4), a rowid table: fields is WITHOUT ROWID, so its rows are the
// keys of its B-tree, and SQLite reads a row's whole overflow chain to
// compare keys while seeking past it; one 64 MiB value there made every
// read of any anchor's fields read 64 MiB. The field's row keeps its name,
// stamp and origin, and in its value column an INTEGER reference instead
// of the BLOB: the value's size << 32 | its CRC-32C. A vals row's crc is
// rowSum("vals", id, name, value).
//
// A write transaction's Anchor returns such fields as references
// (anchor.Field.Ref), and PutAnchor keeps them as stored, so a Set of
// another field or a Connect to the node neither reads nor rewrites the
// value. Views read every value; FieldValue reads one for Apply.

const (
	sqlVal     = `SELECT value, crc FROM vals WHERE id = ? AND name = ?`
	sqlPutVal  = `INSERT OR REPLACE INTO vals (id, name, value, crc) VALUES (?1, ?2, ?3, ` + sumFunc + `('vals', ?1, ?2, ?3))`
	sqlDelVal  = `DELETE FROM vals WHERE id = ? AND name = ?`
	sqlDelVals = `DELETE FROM vals WHERE id = ?`
)

// refColumn is the value column of an out-of-line field's row.
func refColumn(r *anchor.Ref) int64 { return r.Size<<32 | int64(r.Sum) }

// refFrom decodes a value column holding a reference.
func refFrom(n int64) (*anchor.Ref, bool) {
	r := &anchor.Ref{Size: n >> 32, Sum: uint32(n)}
	return r, r.Size >= anchor.OutOfLine
}

// readVal reads the vals row of (id, name) through q and checks it
// against its crc and ref.
func readVal(ctx context.Context, q querier, id anchor.ID, name string, ref anchor.Ref) ([]byte, error) {
	var value, crc any
	err := q.QueryRowContext(ctx, sqlVal, id[:], name).Scan(&value, &crc)
	fail := func(format string, args ...any) error {
		return &anchor.Error{Op: "read", ID: id, Field: name, Err: fmt.Errorf("%w: "+format, append([]any{anchor.ErrCorrupt}, args...)...)}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fail("out-of-line value missing")
	}
	if err != nil {
		return nil, err
	}
	if !crcOK(crc, rowSum("vals", id[:], name, value)) {
		return nil, fail("checksum mismatch: vals row")
	}
	v, ok := value.([]byte)
	if !ok {
		return nil, fail("out-of-line value holds %T", value)
	}
	if err := ref.Check(v); err != nil {
		return nil, &anchor.Error{Op: "read", ID: id, Field: name, Err: err}
	}
	return v, nil
}

// loadVals replaces a's references with their values, read through q.
func loadVals(ctx context.Context, q querier, a *anchor.Anchor) (*anchor.Anchor, error) {
	if a == nil {
		return nil, nil
	}
	for name, f := range a.Fields {
		if f.Ref == nil {
			continue
		}
		v, err := readVal(ctx, q, a.ID, name, *f.Ref)
		if err != nil {
			return nil, err
		}
		a.Fields[name] = anchor.Field{Value: v, Stamp: f.Stamp, Origin: f.Origin}
	}
	return a, nil
}

// FieldValue reads the value of field name of anchor id as this
// transaction sees it, checked against the reference it read.
func (t *wtx) FieldValue(id anchor.ID, name string) ([]byte, error) {
	if t.err != nil {
		return nil, t.err
	}
	if _, err := t.Anchor(id); err != nil {
		return nil, err
	}
	inline, ref, err := t.seen[id].StoredField(name)
	if err != nil || ref == nil {
		return inline, err
	}
	v, err := readVal(t.ctx, t.w.conn, id, name, *ref)
	var ae *anchor.Error
	if err != nil && !errors.As(err, &ae) {
		return nil, t.fail(err)
	}
	return v, err
}

// putVals writes, for PutAnchor, the out-of-line side of field name of
// anchor id: the value v if it is new (not nil), and drops the stored one
// if the field had one and has none now (had and !has).
func (t *wtx) putVals(id anchor.ID, name string, v []byte, had, has bool) error {
	switch {
	case v != nil:
		return t.exec(t.w.putVal, id[:], name, v)
	case had && !has:
		return t.exec(t.w.delVal, id[:], name)
	}
	return nil
}

// checkVals reports every vals row no field row refers to. (A referenced
// value that is missing or damaged is found when Verify reads the anchor.)
func (v *view) checkVals(report func(kind string, id anchor.ID, detail string)) error {
	var n int
	if err := v.tx.QueryRowContext(v.ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'vals'`).Scan(&n); err != nil || n == 0 {
		return err // no vals table: no orphans (a field referring to a value is then reported by the anchor scan)
	}
	rows, err := v.tx.QueryContext(v.ctx, `SELECT v.id, v.name, length(v.value) FROM vals v WHERE NOT EXISTS
		(SELECT 1 FROM fields f WHERE f.id = v.id AND f.name = v.name AND typeof(f.value) = 'integer')`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var key []byte
		var name string
		var size int64
		if err := rows.Scan(&key, &name, &size); err != nil {
			return err
		}
		var id anchor.ID
		idCol(&id, key)
		report(backend.ProblemValueOrphan, id, fmt.Sprintf("value of field %q (%d bytes) no field row refers to", name, size))
	}
	return rows.Err()
}
