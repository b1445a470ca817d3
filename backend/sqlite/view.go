package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// readers holds the statements of the read pool, prepared once on the
// pool; each view binds the ones it uses to its transaction.
type readers struct {
	meta, anchor, anchors, changes, kv, index *sql.Stmt // index: see view.Index
}

func prepareReaders(ctx context.Context, db *sql.DB) (*readers, error) {
	r := &readers{}
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&r.meta, sqlMeta}, {&r.anchor, sqlAnchor}, {&r.anchors, sqlAnchors},
		{&r.changes, sqlChanges}, {&r.kv, sqlKV},
		{&r.index, sqlIndex},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			r.close()
			return nil, err
		}
		*p.dst = st
	}
	return r, nil
}

func (r *readers) close() {
	for _, st := range []*sql.Stmt{r.meta, r.anchor, r.anchors, r.changes, r.kv, r.index} {
		if st != nil {
			st.Close()
		}
	}
}

// view is a backend.Snapshot over one read transaction of the read pool: one
// consistent snapshot (WAL mode fixes it at the first read, which start
// does). It holds its connection (conn, on which tx runs) for its whole
// life, so that its index scans, which step statements of their own on it,
// read in tx too. It is used by one goroutine, during the View callback
// only.
type view struct {
	s    *driver
	conn *sql.Conn
	tx   *sql.Tx
	ctx  context.Context
	meta backend.Meta
	st   map[*sql.Stmt]*sql.Stmt // pool statement -> bound to tx
}

var _ backend.Snapshot = (*view)(nil)

func (v *view) stmt(pool *sql.Stmt) *sql.Stmt {
	if st, ok := v.st[pool]; ok {
		return st
	}
	st := v.tx.StmtContext(v.ctx, pool)
	v.st[pool] = st
	return st
}

// start reads meta, which also fixes the snapshot.
func (v *view) start() error {
	hlc, seq, err := readClock(v.ctx, v.stmt(v.s.r.meta))
	if err != nil {
		return err
	}
	v.meta = v.s.meta
	v.meta.HLC, v.meta.Seq = anchor.HLC(uint64(hlc)), uint64(seq)
	return nil
}

func (v *view) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	a, _, err := readAnchor(v.ctx, v.stmt(v.s.r.anchor), id)
	if err == nil {
		a, err = loadVals(v.ctx, v.tx, a)
	}
	if err != nil {
		return nil, v.err("get", err)
	}
	return a, nil
}

func (v *view) Anchors(fn func(anchor.ID, *anchor.Anchor, error) error) error {
	rows, err := v.stmt(v.s.r.anchors).QueryContext(v.ctx)
	if err != nil {
		return v.err("scan", err)
	}
	defer rows.Close()
	var (
		vals [1 + nCols]any
		ptrs [1 + nCols]any
		key  []byte // the current anchor's key, as stored
		id   anchor.ID
		b    assembler
	)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	flush := func() error {
		if key == nil {
			return nil
		}
		key = nil
		a, _, err := b.finish()
		if err == nil {
			if a, err = loadVals(v.ctx, v.tx, a); err != nil && !errors.Is(err, anchor.ErrCorrupt) {
				return v.err("scan", err)
			}
		}
		return fn(id, a, err)
	}
	for rows.Next() {
		if err := rows.Scan(ptrs[:]...); err != nil {
			return v.err("scan", err)
		}
		k, _ := vals[0].([]byte)
		if key == nil || !bytes.Equal(k, key) {
			if err := flush(); err != nil {
				return err
			}
			key = append(k[:0:0], k...)
			if key == nil {
				key = []byte{}
			}
			var err error
			if id, err = anchor.IDFromBytes(k); err != nil {
				b = assembler{id: id, bad: corrupt(id, "anchor key %x: %v", k, err)}
				continue
			}
			b.header(id, key, vals[1:1+nHeader])
		}
		b.field(key, vals[1+nHeader:])
	}
	if err := rows.Err(); err != nil {
		return v.err("scan", err)
	}
	return flush()
}

func (v *view) Changes(after uint64, fn func(uint64, anchor.ID) error) error {
	if after >= math.MaxInt64 {
		return nil
	}
	from := int64(after)
	if after == 0 {
		from = math.MinInt64 // every row, so Verify sees malformed sequences too
	}
	rows, err := v.stmt(v.s.r.changes).QueryContext(v.ctx, from)
	if err != nil {
		return v.err("changes", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var raw, crc any
		if err := rows.Scan(&seq, &raw, &crc); err != nil {
			return v.err("changes", err)
		}
		var id anchor.ID
		if !crcOK(crc, rowSum("log", seq, raw)) {
			return corruptLog(seq, errors.New("checksum mismatch"))
		}
		if err := idCol(&id, raw); err != nil || seq <= 0 {
			return corruptLog(seq, err)
		}
		if err := fn(uint64(seq), id); err != nil {
			return err
		}
	}
	return v.err("changes", rows.Err())
}

func corruptLog(seq int64, err error) error {
	return fmt.Errorf("%w: change-log entry %d: %v", anchor.ErrCorrupt, seq, err)
}

func (v *view) Meta() backend.Meta { return v.meta }

// err translates a read error (see driver.readErr and viewErr).
func (v *view) err(op string, err error) error { return viewErr(v.ctx, v.s.readErr(op, err)) }

// MetaValue returns the value a batch stored under key (Batch.Meta), or nil.
func (v *view) MetaValue(key string) ([]byte, error) {
	b, err := readKV(v.ctx, v.stmt(v.s.r.kv), key)
	return b, v.err("meta", err)
}

// begin takes a connection of the read pool and opens the view's read
// transaction on it.
func (s *driver) begin(ctx context.Context) (*view, error) {
	conn, err := s.rdb.Conn(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		conn.Close()
		return nil, err
	}
	v := &view{s: s, conn: conn, tx: tx, ctx: ctx, st: make(map[*sql.Stmt]*sql.Stmt)}
	if err := v.start(); err != nil {
		v.end()
		return nil, err
	}
	return v, nil
}

// end rolls the read transaction back and returns the connection to the
// pool.
func (v *view) end() {
	v.tx.Rollback()
	v.conn.Close()
}

// View calls fn with a consistent snapshot of committed state, taken from
// the read pool. It never waits for writers; in the rare case SQLite
// reports the database locked to a reader it retries with backoff while
// ctx allows.
func (s *driver) View(ctx context.Context, fn func(backend.Snapshot) error) error {
	start := time.Now()
	ctx, cancel := s.viewContext(ctx)
	defer cancel()
	for attempt := 0; ; attempt++ {
		v, err := s.begin(ctx)
		if err == nil {
			defer v.end()
			return fn(v)
		}
		if !isBusy(err) {
			return s.readErr("view", err)
		}
		if !backend.Backoff(ctx, s.opts.MaxBackoff, attempt) {
			return &BusyError{Op: "view", Path: s.path, Waited: time.Since(start), Err: ctx.Err()}
		}
	}
}
