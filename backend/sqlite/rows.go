package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
)

// Reading rows with their checksums (see rowSum). Every function here
// checks a row's crc before it decodes a column.

// assembler builds one anchor from the rows of sqlAnchor or sqlAnchors:
// its anchors row, then one row per field. It checks each row's checksum
// and, at the end, that the field rows add up to the header's fsum.
type assembler struct {
	id   anchor.ID
	a    *anchor.Anchor
	bad  error
	fsum int64            // the digest the header holds
	got  int64            // the digest of the field rows read
	sums map[string]int64 // each field row's crc, by name
}

// header starts the anchor stored under key with its header columns c
// (the first nHeader columns of anchorCols).
func (b *assembler) header(id anchor.ID, key []byte, c []any) {
	*b = assembler{id: id, sums: make(map[string]int64)}
	if !crcOK(c[nHeader-1], rowSum("anchors", append([]any{key}, c[:nHeader-1]...)...)) {
		b.bad = damaged(id, "anchors row")
		return
	}
	b.fsum, _ = c[nDecoded].(int64)
	b.a, b.bad = decodeHeader(id, c[:nDecoded])
}

// field adds one field row (name, value, stamp, origin, crc; all NULL when
// the anchor has no fields) stored under key.
func (b *assembler) field(key []byte, c []any) {
	if b.bad != nil || c[0] == nil && c[4] == nil {
		return
	}
	sum := rowSum("fields", key, c[0], c[1], c[2], c[3])
	if !crcOK(c[4], sum) {
		b.bad = &anchor.Error{Op: "decode", ID: b.id, Field: fmt.Sprint(c[0]), Err: fmt.Errorf("%w: checksum mismatch: field row", anchor.ErrCorrupt)}
		b.a = nil
		return
	}
	if b.bad = addField(b.a, c[:4]); b.bad != nil {
		b.a = nil
		return
	}
	b.got += fieldTerm(sum)
	b.sums[c[0].(string)] = sum
}

// finish returns the anchor, its field rows' checksums, or the first
// problem found.
func (b *assembler) finish() (*anchor.Anchor, map[string]int64, error) {
	if b.bad == nil && b.got != b.fsum {
		b.bad = damaged(b.id, "its field rows do not match the header's digest (a field row is missing, extra or stale)")
	}
	if b.bad != nil {
		return nil, nil, b.bad
	}
	return b.a, b.sums, nil
}

// readAnchor reads one anchor with its fields through stmt (a prepared
// sqlAnchor), and the checksums of its field rows. A missing anchor yields
// an *anchor.Error wrapping anchor.ErrNotFound, a malformed or damaged row
// one wrapping anchor.ErrCorrupt; any other error comes from the database.
func readAnchor(ctx context.Context, stmt *sql.Stmt, id anchor.ID) (*anchor.Anchor, map[string]int64, error) {
	rows, err := stmt.QueryContext(ctx, id[:])
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var (
		b     assembler
		found bool
		vals  [nCols]any
		ptrs  [nCols]any
	)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs[:]...); err != nil {
			return nil, nil, err
		}
		if !found {
			found = true
			b.header(id, id[:], vals[:nHeader])
		}
		b.field(id[:], vals[nHeader:])
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if !found {
		return nil, nil, &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
	}
	return b.finish()
}

// readKV reads the kv row key through stmt (a prepared sqlKV): nil if
// there is none, an error wrapping anchor.ErrCorrupt if it is damaged.
func readKV(ctx context.Context, stmt *sql.Stmt, key string) ([]byte, error) {
	var v, crc any
	err := stmt.QueryRowContext(ctx, key).Scan(&v, &crc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	b, ok := v.([]byte)
	if !ok && v != nil || !crcOK(crc, rowSum("kv", key, v)) {
		return nil, fmt.Errorf("%w: checksum mismatch: kv row %q", anchor.ErrCorrupt, key)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// readClock reads the persisted HLC and change-log sequence through stmt
// (a prepared sqlMeta), checking both rows.
func readClock(ctx context.Context, stmt *sql.Stmt) (hlc, seq int64, err error) {
	rows, err := stmt.QueryContext(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	found := 0
	for rows.Next() {
		var key string
		var v, crc any
		if err := rows.Scan(&key, &v, &crc); err != nil {
			return 0, 0, err
		}
		n, ok := v.(int64)
		if !ok || !crcOK(crc, rowSum("meta", key, v)) {
			return 0, 0, fmt.Errorf("%w: checksum mismatch: meta row %q", anchor.ErrCorrupt, key)
		}
		switch key {
		case "hlc":
			hlc, found = n, found|1
		case "seq":
			seq, found = n, found|2
		}
	}
	if err := rows.Err(); err != nil {
		return 0, 0, err
	}
	if found != 3 {
		return 0, 0, fmt.Errorf("%w: meta rows hlc and seq are missing", anchor.ErrCorrupt)
	}
	return hlc, seq, nil
}
