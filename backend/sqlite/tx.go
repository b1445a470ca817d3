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

// writer holds the writer connection and its prepared statements. Only the
// goroutine holding Store.wsem uses it.
type writer struct {
	conn                                     *sql.Conn
	begin, commit, rollback                  *sql.Stmt
	meta, setMeta                            *sql.Stmt
	anchor                                   *sql.Stmt
	putVal, delVal, delVals                  *sql.Stmt // lazy.go
	putAnchor, putField, delField, delFields *sql.Stmt
	logged                                   *sql.Stmt
	kv, putKV                                *sql.Stmt
	index, putIndex, delIndex                *sql.Stmt
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
		{&w.setMeta, "UPDATE meta SET value = ?1, crc = " + sumFunc + "('meta', ?2, ?1) WHERE key = ?2"},
		{&w.anchor, sqlAnchor},
		{&w.putVal, sqlPutVal}, {&w.delVal, sqlDelVal}, {&w.delVals, sqlDelVals},
		{&w.putAnchor, `INSERT OR REPLACE INTO anchors (id, kind, owner, type, created, updated, deleted,
			access_stamp, access, source, target, undirected, fsum, crc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
		{&w.putField, "INSERT OR REPLACE INTO fields (id, name, value, stamp, origin, crc) VALUES (?, ?, ?, ?, ?, ?)"},
		{&w.delField, "DELETE FROM fields WHERE id = ? AND name = ?"},
		{&w.delFields, "DELETE FROM fields WHERE id = ?"},
		// id is UNIQUE: REPLACE drops the anchor's previous log entry.
		{&w.logged, "INSERT OR REPLACE INTO log (seq, id, crc) VALUES (?1, ?2, " + sumFunc + "('log', ?1, ?2))"},
		{&w.kv, sqlKV},
		{&w.putKV, "INSERT OR REPLACE INTO kv (key, value, crc) VALUES (?1, ?2, " + sumFunc + "('kv', ?1, ?2))"},
		{&w.index, sqlIndex}, {&w.putIndex, sqlPutIndex}, {&w.delIndex, sqlDelIndex},
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
	for _, st := range []*sql.Stmt{w.begin, w.commit, w.rollback, w.meta, w.setMeta, w.anchor,
		w.putVal, w.delVal, w.delVals,
		w.putAnchor, w.putField, w.delField, w.delFields, w.logged, w.kv, w.putKV, w.index, w.putIndex, w.delIndex} {
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
	// sums holds the checksums of the field rows of the anchors in seen,
	// so that the header's digest can be rebuilt without rereading or
	// rewriting the fields a write leaves alone.
	sums map[anchor.ID]map[string]int64
}

var _ backend.Tx = (*wtx)(nil)

// start reads the persisted clock and sequence inside the transaction:
// other processes may have written since this one last did.
func (t *wtx) start() error {
	hlc, seq, err := readClock(t.ctx, t.w.meta)
	if err != nil {
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
	a, sums, err := readAnchor(t.ctx, t.w.anchor, id)
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
	t.seen[id], t.sums[id] = a, sums
	return a.Clone(), nil
}

// PutAnchor writes a's header row and the field rows that differ from
// what the transaction last saw of a (all of them if it saw nothing), and
// deletes the field rows a no longer has. The header's digest (fsum) is
// rebuilt from the checksums of every field row, written or kept.
func (t *wtx) PutAnchor(a *anchor.Anchor) error {
	prev, known := t.seen[a.ID]
	if !known {
		if err := t.exec(t.w.delFields, a.ID[:]); err != nil {
			return err
		}
		if err := t.exec(t.w.delVals, a.ID[:]); err != nil {
			return err
		}
	}
	head, values := anchor.SplitOutOfLine(a) // lazy.go
	prevSums := t.sums[a.ID]
	sums := make(map[string]int64, len(a.Fields))
	var fsum int64
	for name, f := range head.Fields {
		var p anchor.Field
		var had bool
		if prev != nil {
			p, had = prev.Fields[name]
			if sum, kept := prevSums[name]; had && kept && p.Stamp == f.Stamp && p.Origin == f.Origin &&
				bytes.Equal(p.Value, f.Value) && sameRef(p.Ref, f.Ref) && values[name] == nil {
				sums[name], fsum = sum, fsum+fieldTerm(sum)
				continue
			}
		}
		var value any = f.Value
		if f.Ref != nil {
			if values[name] == nil {
				return &anchor.Error{Op: "put", ID: a.ID, Field: name, Err: fmt.Errorf("%w: a field value this transaction did not read changed stamp", anchor.ErrIntegrity)}
			}
			value = refColumn(f.Ref)
		}
		if err := t.putVals(a.ID, name, values[name], had && p.Ref != nil, f.Ref != nil); err != nil {
			return err
		}
		origin := nullOrigin(f.Origin)
		sum := rowSum("fields", a.ID[:], name, value, int64(f.Stamp), origin)
		if err := t.exec(t.w.putField, a.ID[:], name, value, int64(f.Stamp), origin, sum); err != nil {
			return err
		}
		sums[name], fsum = sum, fsum+fieldTerm(sum)
	}
	if prev != nil {
		for name, p := range prev.Fields {
			if _, ok := a.Fields[name]; !ok {
				if err := t.exec(t.w.delField, a.ID[:], name); err != nil {
					return err
				}
				if err := t.putVals(a.ID, name, nil, p.Ref != nil, false); err != nil {
					return err
				}
			}
		}
	}
	cols := []any{a.ID[:], int64(a.Kind), a.Owner[:], a.Type, int64(a.Created), int64(a.Updated),
		int64(a.Deleted), int64(a.AccessStamp()), encodeAccess(a), nullID(a, a.Source), nullID(a, a.Target),
		boolInt(a.Undirected), fsum}
	if err := t.exec(t.w.putAnchor, append(cols, rowSum("anchors", cols...))...); err != nil {
		return err
	}
	t.seen[a.ID], t.sums[a.ID] = head.Clone(), sums
	return nil
}

func sameRef(a, b *anchor.Ref) bool { return a == b || (a != nil && b != nil && *a == *b) }

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
