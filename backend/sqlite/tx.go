package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// readAnchor reads one anchor with its fields through stmt (a prepared
// sqlAnchor). A missing anchor yields an *anchor.Error wrapping
// anchor.ErrNotFound, a malformed row one wrapping anchor.ErrCorrupt; any
// other error comes from the database.
func readAnchor(ctx context.Context, stmt *sql.Stmt, id anchor.ID) (*anchor.Anchor, error) {
	rows, err := stmt.QueryContext(ctx, id[:])
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var (
		a     *anchor.Anchor
		found bool
		bad   error
		vals  [nCols]any
		ptrs  [nCols]any
	)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs[:]...); err != nil {
			return nil, err
		}
		if !found {
			found = true
			a, bad = decodeHeader(id, vals[:nHeader])
		}
		if bad == nil {
			if bad = addField(a, vals[nHeader:]); bad != nil {
				a = nil
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	switch {
	case !found:
		return nil, &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
	case bad != nil:
		return nil, bad
	}
	return a, nil
}

// readAdjacent calls fn for each adjacency row of node, in edge order,
// through stmt (a prepared sqlAdjacent).
func readAdjacent(ctx context.Context, stmt *sql.Stmt, node anchor.ID, fn func(anchor.Adj) error) error {
	rows, err := stmt.QueryContext(ctx, node[:])
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var edge, peer, dir, typ any
		if err := rows.Scan(&edge, &peer, &dir, &typ); err != nil {
			return err
		}
		a, err := decodeAdj(node[:], edge, peer, dir, typ)
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return rows.Err()
}

// writer holds the writer connection and its prepared statements. Only the
// goroutine holding Store.wsem uses it.
type writer struct {
	conn                                     *sql.Conn
	begin, commit, rollback                  *sql.Stmt
	meta, setMeta                            *sql.Stmt
	anchor, adjacent                         *sql.Stmt
	putAnchor, putField, delField, delFields *sql.Stmt
	putAdj, delAdj, logged                   *sql.Stmt
	kv, putKV                                *sql.Stmt
}

func prepareWriter(ctx context.Context, conn *sql.Conn) (*writer, error) {
	w := &writer{conn: conn}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&w.begin, "BEGIN IMMEDIATE"},
		{&w.commit, "COMMIT"},
		{&w.rollback, "ROLLBACK"},
		{&w.meta, sqlMeta},
		{&w.setMeta, "UPDATE meta SET value = ? WHERE key = ?"},
		{&w.anchor, sqlAnchor},
		{&w.adjacent, sqlAdjacent},
		{&w.putAnchor, `INSERT OR REPLACE INTO anchors (id, kind, owner, type, created, updated, deleted,
			access_stamp, access, source, target, undirected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&w.putField, "INSERT OR REPLACE INTO fields (id, name, value, stamp, origin) VALUES (?, ?, ?, ?, ?)"},
		{&w.delField, "DELETE FROM fields WHERE id = ? AND name = ?"},
		{&w.delFields, "DELETE FROM fields WHERE id = ?"},
		{&w.putAdj, "INSERT OR REPLACE INTO adj (node, edge, peer, dir, type) VALUES (?, ?, ?, ?, ?)"},
		{&w.delAdj, "DELETE FROM adj WHERE node = ? AND edge = ?"},
		// id is UNIQUE: REPLACE drops the anchor's previous log entry.
		{&w.logged, "INSERT OR REPLACE INTO log (seq, id) VALUES (?, ?)"},
		{&w.kv, sqlKV},
		{&w.putKV, "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)"},
	} {
		st, err := conn.PrepareContext(ctx, p.sql)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.dst = st
	}
	return w, nil
}

func (w *writer) close() {
	for _, st := range []*sql.Stmt{w.begin, w.commit, w.rollback, w.meta, w.setMeta, w.anchor, w.adjacent,
		w.putAnchor, w.putField, w.delField, w.delFields, w.putAdj, w.delAdj, w.logged, w.kv, w.putKV} {
		if st != nil {
			st.Close()
		}
	}
}

// wtx is the delta.Tx of one attempt of one write transaction. It lives
// between BEGIN IMMEDIATE and COMMIT/ROLLBACK; a retried transaction gets a
// new one, so nothing of a failed attempt carries over.
type wtx struct {
	s   *driver
	w   *writer
	ctx context.Context

	hlc        anchor.HLC // persisted clock, read from meta in this transaction
	seq        uint64     // greatest change-log sequence, read from meta in this transaction
	seqChanged bool
	wrote      bool
	// err is the first database error. Once set every method fails with
	// it and the transaction is rolled back: after some errors SQLite has
	// already rolled back itself, and later statements must not run
	// outside the transaction.
	err error
	// seen is each anchor as it stands in this transaction (nil: known
	// not to exist), for anchors read or written through this wtx. Reads
	// are served from it, and PutAnchor writes only the fields that
	// differ from it.
	seen map[anchor.ID]*anchor.Anchor
}

var _ backend.Tx = (*wtx)(nil)

// start reads the persisted clock and sequence inside the transaction:
// other processes may have written since this one last did.
func (t *wtx) start() error {
	var hlc, seq int64
	if err := t.w.meta.QueryRowContext(t.ctx).Scan(&hlc, &seq); err != nil {
		return fmt.Errorf("read meta: %w", err)
	}
	t.hlc, t.seq = anchor.HLC(uint64(hlc)), uint64(seq)
	return nil
}

func (t *wtx) fail(err error) error {
	err = t.s.writeErr(err)
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *wtx) exec(st *sql.Stmt, args ...any) error {
	if t.err != nil {
		return t.err
	}
	if _, err := st.ExecContext(t.ctx, args...); err != nil {
		return t.fail(err)
	}
	t.wrote = true
	return nil
}

func (t *wtx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	if t.err != nil {
		return nil, t.err
	}
	if a, ok := t.seen[id]; ok {
		if a == nil {
			return nil, &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
		}
		return a.Clone(), nil
	}
	a, err := readAnchor(t.ctx, t.w.anchor, id)
	var ae *anchor.Error
	switch {
	case errors.As(err, &ae) && errors.Is(err, anchor.ErrNotFound):
		t.seen[id] = nil
		return nil, err
	case errors.As(err, &ae):
		return nil, err // a corrupt row: this batch fails, the transaction is fine
	case err != nil:
		return nil, t.fail(err)
	}
	t.seen[id] = a
	return a.Clone(), nil
}

func (t *wtx) Adjacent(node anchor.ID, fn func(anchor.Adj) error) error {
	if t.err != nil {
		return t.err
	}
	// Collect first: fn may read through t while the rows would be open.
	var rows []anchor.Adj
	err := readAdjacent(t.ctx, t.w.adjacent, node, func(a anchor.Adj) error { rows = append(rows, a); return nil })
	if err != nil {
		if errors.Is(err, anchor.ErrCorrupt) {
			return err
		}
		return t.fail(err)
	}
	for _, r := range rows {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (t *wtx) PutAnchor(a *anchor.Anchor) error {
	if err := t.exec(t.w.putAnchor, a.ID[:], int64(a.Kind), a.Owner[:], a.Type, int64(a.Created), int64(a.Updated),
		int64(a.Deleted), int64(a.AccessStamp()), encodeAccess(a), nullID(a, a.Source), nullID(a, a.Target),
		boolInt(a.Undirected)); err != nil {
		return err
	}
	prev, known := t.seen[a.ID]
	if !known {
		if err := t.exec(t.w.delFields, a.ID[:]); err != nil {
			return err
		}
	}
	for name, f := range a.Fields {
		if prev != nil {
			if p, ok := prev.Fields[name]; ok && p.Stamp == f.Stamp && p.Origin == f.Origin && bytes.Equal(p.Value, f.Value) {
				continue
			}
		}
		if err := t.exec(t.w.putField, a.ID[:], name, f.Value, int64(f.Stamp), nullOrigin(f.Origin)); err != nil {
			return err
		}
	}
	if prev != nil {
		for name := range prev.Fields {
			if _, ok := a.Fields[name]; !ok {
				if err := t.exec(t.w.delField, a.ID[:], name); err != nil {
					return err
				}
			}
		}
	}
	t.seen[a.ID] = a.Clone()
	return nil
}

func (t *wtx) PutAdj(r anchor.Adj) error {
	return t.exec(t.w.putAdj, r.Node[:], r.Edge[:], r.Peer[:], int64(r.Dir), r.Type)
}

func (t *wtx) DeleteAdj(node, edge anchor.ID) error {
	return t.exec(t.w.delAdj, node[:], edge[:])
}

func (t *wtx) Logged(id anchor.ID) error {
	if err := t.exec(t.w.logged, int64(t.seq+1), id[:]); err != nil {
		return err
	}
	t.seq++
	t.seqChanged = true
	return nil
}

// Meta returns the value stored under key by PutMeta, or nil.
func (t *wtx) Meta(key string) ([]byte, error) {
	if t.err != nil {
		return nil, t.err
	}
	v, err := readKV(t.ctx, t.w.kv, key)
	if err != nil {
		return nil, t.fail(err)
	}
	return v, nil
}

// PutMeta stores value under key in this transaction.
func (t *wtx) PutMeta(key string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	return t.exec(t.w.putKV, key, value)
}

func readKV(ctx context.Context, stmt *sql.Stmt, key string) ([]byte, error) {
	var v []byte
	err := stmt.QueryRowContext(ctx, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err == nil && v == nil {
		v = []byte{}
	}
	return v, err
}
