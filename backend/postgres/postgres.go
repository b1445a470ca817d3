package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// SchemaVersion is the table layout this build writes and reads.
const SchemaVersion = 1

const magic = "anchorage-postgres"

// Options configures Open. The zero value (or nil) means the defaults.
type Options struct {
	// Schema is the PostgreSQL schema holding the store's tables; many
	// stores may share one database under different schemas. Default
	// "anchorage".
	Schema string
	// Limits bound one write (see delta.Limits); zero fields: defaults.
	Limits delta.Limits
	// NoGroupCommit, MaxGroup, MaxBackoff: see backend.Options.
	NoGroupCommit bool
	MaxGroup      int
	MaxBackoff    time.Duration
	// MaxConns caps the connection pool. Default 8.
	MaxConns int32
	// OpenTimeout bounds connecting and checking the schema in Open.
	// Default 30s.
	OpenTimeout time.Duration
	// LockTimeout is how long one statement waits for a lock another
	// transaction holds (PostgreSQL's lock_timeout) before the engine
	// rolls the transaction back and runs it again, for as long as the
	// callers' contexts allow. Default 1s.
	LockTimeout time.Duration
	// ReadOnly opens an existing store without creating or changing
	// anything; Apply fails with anchor.ErrReadOnly.
	ReadOnly bool
	// Now is the wall clock for HLC stamps. Default time.Now.
	Now func() time.Time
}

// Store is the PostgreSQL durable tier: many processes on many machines
// may open the same schema at once. It is the engine (backend.Engine:
// Apply, View, Size, Close) over this package's driver.
//
// Store is safe for concurrent use. Within a process, concurrent Apply calls
// are group-committed; across processes, write transactions serialise on
// the store's meta row (SELECT ... FOR UPDATE), which also carries the HLC
// and the change-log sequence, so stamps and sequence numbers are
// store-wide and follow commit order. Reads run in REPEATABLE READ
// read-only transactions and never block writers.
type Store struct {
	*backend.Engine
}

// driver is the PostgreSQL backend.Driver.
type driver struct {
	pool *pgxpool.Pool
	opts Options
	t    tables
	meta backend.Meta // StoreID, ReplicaID, Schema
}

var _ backend.Driver = (*driver)(nil)

// tables holds the schema-qualified, quoted table names.
type tables struct{ schema, meta, anchors, adj, log, kv string }

func newTables(schema string) tables {
	q := func(name string) string { return pgx.Identifier{schema, name}.Sanitize() }
	return tables{schema: pgx.Identifier{schema}.Sanitize(), meta: q("meta"), anchors: q("anchors"), adj: q("adj"), log: q("log"), kv: q("kv")}
}

// Open connects to the database named by dsn (a libpq connection string or
// URL) and opens the store in opts.Schema, creating it unless read-only.
// A schema holding other tables yields anchor.ErrNotStore; a store of a
// newer layout yields anchor.ErrVersion.
func Open(dsn string, opts *Options) (*Store, error) {
	d, err := OpenDriver(dsn, opts)
	if err != nil {
		return nil, err
	}
	o := d.(*driver).opts
	e, err := backend.New(d, "postgres schema "+o.Schema, &backend.Options{NoGroupCommit: o.NoGroupCommit, MaxGroup: o.MaxGroup, MaxBackoff: o.MaxBackoff, Now: o.Now, Limits: o.Limits})
	if err != nil {
		return nil, fmt.Errorf("anchorage: open postgres schema %q: %w", o.Schema, err)
	}
	return &Store{Engine: e}, nil
}

// OpenDriver connects and opens the schema as Open does and returns the
// bare driver, for backend.New (tests wrap it to inject faults). Options
// fields that belong to the engine (NoGroupCommit, MaxGroup, MaxBackoff,
// Now) are ignored here.
func OpenDriver(dsn string, opts *Options) (backend.Driver, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxConns < 0 || o.OpenTimeout < 0 || o.LockTimeout < 0 || o.MaxGroup < 0 {
		return nil, fmt.Errorf("anchorage: open postgres: %w: negative MaxConns, MaxGroup or timeout", backend.ErrOptions)
	}
	if o.Schema == "" {
		o.Schema = "anchorage"
	}
	if o.MaxConns == 0 {
		o.MaxConns = 8
	}
	if o.OpenTimeout == 0 {
		o.OpenTimeout = 30 * time.Second
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = time.Second
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("anchorage: postgres dsn: %w", err)
	}
	cfg.MaxConns = o.MaxConns
	cfg.ConnConfig.RuntimeParams["lock_timeout"] = fmt.Sprintf("%d", o.LockTimeout.Milliseconds())
	ctx, cancel := context.WithTimeout(context.Background(), o.OpenTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("anchorage: postgres connect: %w", err)
	}
	s := &driver{pool: pool, opts: o, t: newTables(o.Schema)}
	if err := s.init(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("anchorage: open postgres schema %q: %w", o.Schema, err)
	}
	return s, nil
}

// Info returns the store's identity.
func (s *driver) Info() backend.Info {
	return backend.Info{Schema: s.meta.Schema, StoreID: s.meta.StoreID, ReplicaID: s.meta.ReplicaID, ReadOnly: s.opts.ReadOnly}
}

func (s *driver) init(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if !s.opts.ReadOnly {
			// Serialise concurrent first opens of the same schema.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "anchorage:"+s.opts.Schema); err != nil {
				return err
			}
		}
		var nTables int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, s.opts.Schema).Scan(&nTables); err != nil {
			return err
		}
		var hasMeta bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'meta')`, s.opts.Schema).Scan(&hasMeta); err != nil {
			return err
		}
		switch {
		case nTables == 0 && s.opts.ReadOnly:
			return fmt.Errorf("%w: schema has no store", anchor.ErrNotStore)
		case nTables == 0:
			if err := s.create(ctx, tx); err != nil {
				return err
			}
		case !hasMeta:
			return fmt.Errorf("%w: schema holds %d tables of something else", anchor.ErrNotStore, nTables)
		}
		var mg string
		var schema int
		var store, replica []byte
		err := tx.QueryRow(ctx, `SELECT magic, schema_version, store_id, replica_id FROM `+s.t.meta+` WHERE id = 1`).Scan(&mg, &schema, &store, &replica)
		if err != nil {
			return fmt.Errorf("%w: meta row: %v", anchor.ErrNotStore, err)
		}
		if mg != magic {
			return fmt.Errorf("%w: unknown magic %q", anchor.ErrNotStore, mg)
		}
		if schema != SchemaVersion {
			return fmt.Errorf("%w: store layout %d, this build reads %d", anchor.ErrVersion, schema, SchemaVersion)
		}
		if s.meta.StoreID, err = anchor.IDFromBytes(store); err != nil {
			return fmt.Errorf("%w: store id: %v", anchor.ErrCorrupt, err)
		}
		if s.meta.ReplicaID, err = anchor.IDFromBytes(replica); err != nil {
			return fmt.Errorf("%w: replica id: %v", anchor.ErrCorrupt, err)
		}
		s.meta.Schema = schema
		return nil
	})
}

func (s *driver) create(ctx context.Context, tx pgx.Tx) error {
	store, replica := anchor.NewID(), anchor.NewID()
	stmts := []string{
		`CREATE SCHEMA IF NOT EXISTS ` + s.t.schema,
		`CREATE TABLE ` + s.t.meta + ` (id int PRIMARY KEY CHECK (id = 1), magic text NOT NULL,
			schema_version int NOT NULL, store_id bytea NOT NULL, replica_id bytea NOT NULL,
			hlc bigint NOT NULL, seq bigint NOT NULL)`,
		`CREATE TABLE ` + s.t.anchors + ` (id bytea PRIMARY KEY, kind smallint NOT NULL, rec bytea NOT NULL)`,
		// Adjacency: one row per (node, edge); adding or removing an edge
		// is a key-level insert or delete, so concurrent edge changes commute.
		`CREATE TABLE ` + s.t.adj + ` (node bytea NOT NULL, edge bytea NOT NULL, peer bytea NOT NULL,
			dir smallint NOT NULL, type text NOT NULL, PRIMARY KEY (node, edge))`,
		`CREATE TABLE ` + s.t.log + ` (id bytea PRIMARY KEY, seq bigint NOT NULL UNIQUE)`,
		// Small named values written with batches (import cursors).
		`CREATE TABLE ` + s.t.kv + ` (key text PRIMARY KEY, value bytea NOT NULL)`,
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+s.t.meta+` (id, magic, schema_version, store_id, replica_id, hlc, seq) VALUES (1, $1, $2, $3, $4, 0, 0)`,
		magic, SchemaVersion, store[:], replica[:])
	return err
}

// Begin starts a write transaction and locks the meta row, the
// store-wide write lock that orders every writer in every process and
// carries the clock and sequence they share. A lock conflict (a lock
// held past LockTimeout, a serialisation failure, a deadlock) is reported
// wrapping backend.ErrRetry; the engine runs the transaction again.
func (s *driver) Begin(ctx context.Context) (backend.Tx, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, s.classify(err)
	}
	// From here on the transaction runs to its end whatever the callers'
	// contexts do, so that its answer is the truth; LockTimeout bounds
	// each wait for a lock.
	w := &wtx{s: s, ctx: context.Background(), tx: tx}
	var hlc int64
	if err := tx.QueryRow(w.ctx, `SELECT hlc, seq FROM `+s.t.meta+` WHERE id = 1 FOR UPDATE`).Scan(&hlc, &w.seq); err != nil {
		tx.Rollback(context.Background())
		return nil, s.classify(err)
	}
	w.hlc = anchor.HLC(hlc)
	return w, nil
}

// classify marks lock conflicts as backend.ErrRetry.
func (s *driver) classify(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "55P03") {
		return fmt.Errorf("%w: %w", backend.ErrRetry, err)
	}
	return err
}

func (w *wtx) Clock() (anchor.HLC, error) { return w.hlc, nil }

func (w *wtx) SetClock(h anchor.HLC) error {
	w.hlc = h
	w.clockSet = true
	return nil
}

// Commit sends the queued writes with the clock and sequence, and commits.
func (w *wtx) Commit() error {
	if w.clockSet || w.seqChanged {
		w.pending.Queue(`UPDATE `+w.s.t.meta+` SET hlc = $1, seq = $2 WHERE id = 1`, int64(w.hlc), w.seq)
	}
	if err := w.flush(); err != nil {
		w.tx.Rollback(context.Background())
		return w.s.classify(err)
	}
	if err := w.tx.Commit(w.ctx); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return w.s.classify(err) // the server refused the commit: nothing landed
		}
		return fmt.Errorf("anchorage: postgres commit: %w: %w", anchor.ErrOutcomeUnknown, err)
	}
	return nil
}

func (w *wtx) Rollback() error { return w.tx.Rollback(context.Background()) }

// View runs fn in a REPEATABLE READ, read-only transaction.
func (s *driver) View(ctx context.Context, fn func(backend.View) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		v := &view{rtx: rtx{s: s, ctx: ctx, q: tx}}
		var hlc, seq int64
		if err := tx.QueryRow(ctx, `SELECT hlc, seq FROM `+s.t.meta+` WHERE id = 1`).Scan(&hlc, &seq); err != nil {
			return err
		}
		v.meta = s.meta
		v.meta.HLC, v.meta.Seq = anchor.HLC(hlc), uint64(seq)
		return fn(v)
	})
}

// Size returns the on-disk size of the store's tables and indexes.
func (s *driver) Size(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(format('%I.%I', table_schema, table_name))), 0)::bigint
		FROM information_schema.tables WHERE table_schema = $1`, s.opts.Schema).Scan(&n)
	return n, err
}

// Close closes the pool; the engine calls it once every transaction and
// View has ended.
func (s *driver) Close() error {
	s.pool.Close()
	return nil
}

// querier is what reads need: a pgx.Tx.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// rtx implements the reads of delta.Reader over a transaction.
type rtx struct {
	s   *driver
	ctx context.Context
	q   querier
}

// MetaValue returns the value stored under key, or nil.
func (r *rtx) MetaValue(key string) ([]byte, error) {
	var v []byte
	err := r.q.QueryRow(r.ctx, `SELECT value FROM `+r.s.t.kv+` WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return v, err
}

func (r *rtx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	var rec []byte
	err := r.q.QueryRow(r.ctx, `SELECT rec FROM `+r.s.t.anchors+` WHERE id = $1`, id[:]).Scan(&rec)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
	}
	if err != nil {
		return nil, err
	}
	return anchor.Unmarshal(id, rec)
}

// Adjacent reads node's rows first and calls fn after, so fn may query.
func (r *rtx) Adjacent(node anchor.ID, fn func(anchor.Adj) error) error {
	rows, err := r.q.Query(r.ctx, `SELECT edge, peer, dir, type FROM `+r.s.t.adj+` WHERE node = $1 ORDER BY edge`, node[:])
	if err != nil {
		return err
	}
	var out []anchor.Adj
	for rows.Next() {
		a := anchor.Adj{Node: node}
		if err := scanAdj(rows, &a, nil); err != nil {
			rows.Close()
			return err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, a := range out {
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

// scanAdj scans (edge, peer, dir, type), or with node non-nil
// (node, edge, peer, dir, type).
func scanAdj(rows pgx.Rows, a *anchor.Adj, node *[]byte) error {
	var edge, peer []byte
	var dir int16
	dest := []any{&edge, &peer, &dir, &a.Type}
	if node != nil {
		dest = append([]any{node}, dest...)
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	var err1, err2, err3 error
	a.Edge, err1 = anchor.IDFromBytes(edge)
	a.Peer, err2 = anchor.IDFromBytes(peer)
	if node != nil {
		a.Node, err3 = anchor.IDFromBytes(*node)
	}
	a.Dir = anchor.Direction(dir)
	if err := errors.Join(err1, err2, err3); err != nil || a.Dir < anchor.Out || a.Dir > anchor.Both {
		return fmt.Errorf("%w: adjacency row %x/%x (dir %d): %v", anchor.ErrCorrupt, a.Node, edge, dir, err)
	}
	return nil
}

// wtx is the delta.Tx of a write transaction. Writes are queued and sent
// in one pipelined round trip before the next read (and at the end), so a
// group of batches costs few round trips while still reading its own writes.
type wtx struct {
	s          *driver
	ctx        context.Context
	tx         pgx.Tx
	hlc        anchor.HLC
	seq        int64
	clockSet   bool
	seqChanged bool
	pending    pgx.Batch
}

func (w *wtx) flush() error {
	if w.pending.Len() == 0 {
		return nil
	}
	err := w.tx.SendBatch(w.ctx, &w.pending).Close()
	w.pending = pgx.Batch{}
	return err
}

func (w *wtx) reader() (*rtx, error) {
	if err := w.flush(); err != nil {
		return nil, &delta.WriteError{Err: w.s.classify(err)}
	}
	return &rtx{s: w.s, ctx: w.ctx, q: w.tx}, nil
}

func (w *wtx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	r, err := w.reader()
	if err != nil {
		return nil, err
	}
	return r.Anchor(id)
}

func (w *wtx) Adjacent(node anchor.ID, fn func(anchor.Adj) error) error {
	r, err := w.reader()
	if err != nil {
		return err
	}
	return r.Adjacent(node, fn)
}

func (w *wtx) Meta(key string) ([]byte, error) {
	r, err := w.reader()
	if err != nil {
		return nil, err
	}
	return r.MetaValue(key)
}

func (w *wtx) PutMeta(key string, value []byte) error {
	w.pending.Queue(`INSERT INTO `+w.s.t.kv+` (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, value)
	return nil
}

func (w *wtx) PutAnchor(a *anchor.Anchor) error {
	rec, err := anchor.Marshal(a)
	if err != nil {
		return err
	}
	w.pending.Queue(`INSERT INTO `+w.s.t.anchors+` (id, kind, rec) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, rec = EXCLUDED.rec`, a.ID[:], int16(a.Kind), rec)
	return nil
}

func (w *wtx) PutAdj(r anchor.Adj) error {
	w.pending.Queue(`INSERT INTO `+w.s.t.adj+` (node, edge, peer, dir, type) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (node, edge) DO UPDATE SET peer = EXCLUDED.peer, dir = EXCLUDED.dir, type = EXCLUDED.type`,
		r.Node[:], r.Edge[:], r.Peer[:], int16(r.Dir), r.Type)
	return nil
}

func (w *wtx) DeleteAdj(node, edge anchor.ID) error {
	w.pending.Queue(`DELETE FROM `+w.s.t.adj+` WHERE node = $1 AND edge = $2`, node[:], edge[:])
	return nil
}

func (w *wtx) Logged(id anchor.ID) error {
	w.seq++
	w.seqChanged = true
	w.pending.Queue(`INSERT INTO `+w.s.t.log+` (id, seq) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq`, id[:], w.seq)
	return nil
}

// view adds whole-store scans, read in key-ordered pages so callbacks may
// query the view themselves.
type view struct {
	rtx
	meta backend.Meta
}

const page = 1000

func (v *view) Meta() backend.Meta { return v.meta }

func (v *view) Anchors(fn func(anchor.ID, *anchor.Anchor, error) error) error {
	last := []byte{}
	for {
		rows, err := v.q.Query(v.ctx, `SELECT id, rec FROM `+v.s.t.anchors+` WHERE id > $1 ORDER BY id LIMIT $2`, last, page)
		if err != nil {
			return err
		}
		type rec struct{ id, rec []byte }
		var got []rec
		for rows.Next() {
			var r rec
			if err := rows.Scan(&r.id, &r.rec); err != nil {
				rows.Close()
				return err
			}
			got = append(got, r)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range got {
			id, err := anchor.IDFromBytes(r.id)
			var a *anchor.Anchor
			if err == nil {
				a, err = anchor.Unmarshal(id, r.rec)
			} else {
				err = fmt.Errorf("%w: anchor key of %d bytes", anchor.ErrCorrupt, len(r.id))
			}
			if err := fn(id, a, err); err != nil {
				return err
			}
			last = r.id
		}
		if len(got) < page {
			return nil
		}
	}
}

func (v *view) Adjacency(fn func(anchor.Adj) error) error {
	lastNode, lastEdge := []byte{}, []byte{}
	for {
		rows, err := v.q.Query(v.ctx, `SELECT node, edge, peer, dir, type FROM `+v.s.t.adj+`
			WHERE (node, edge) > ($1, $2) ORDER BY node, edge LIMIT $3`, lastNode, lastEdge, page)
		if err != nil {
			return err
		}
		var got []anchor.Adj
		for rows.Next() {
			var a anchor.Adj
			var node []byte
			if err := scanAdj(rows, &a, &node); err != nil {
				rows.Close()
				return err
			}
			got = append(got, a)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, a := range got {
			if err := fn(a); err != nil {
				return err
			}
			lastNode, lastEdge = append([]byte(nil), a.Node[:]...), append([]byte(nil), a.Edge[:]...)
		}
		if len(got) < page {
			return nil
		}
	}
}

func (v *view) Changes(after uint64, fn func(uint64, anchor.ID) error) error {
	last := int64(after)
	if after == 0 {
		last = math.MinInt64 // every row, so Verify sees malformed sequences too
	}
	for {
		rows, err := v.q.Query(v.ctx, `SELECT seq, id FROM `+v.s.t.log+` WHERE seq > $1 ORDER BY seq LIMIT $2`, last, page)
		if err != nil {
			return err
		}
		type entry struct {
			seq int64
			id  []byte
		}
		var got []entry
		for rows.Next() {
			var e entry
			if err := rows.Scan(&e.seq, &e.id); err != nil {
				rows.Close()
				return err
			}
			got = append(got, e)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, e := range got {
			id, err := anchor.IDFromBytes(e.id)
			if err != nil || e.seq <= 0 {
				return fmt.Errorf("%w: change-log entry %d", anchor.ErrCorrupt, e.seq)
			}
			if err := fn(uint64(e.seq), id); err != nil {
				return err
			}
			last = e.seq
		}
		if len(got) < page {
			return nil
		}
	}
}

// Drop deletes the store kept in schema (its tables and the schema) from
// the database named by dsn. It refuses, with anchor.ErrNotStore, a schema
// that does not hold an Anchorage store. The store must not be open.
func Drop(dsn, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("anchorage: postgres connect: %w", err)
	}
	defer conn.Close(ctx)
	t := newTables(schema)
	var mg string
	if err := conn.QueryRow(ctx, `SELECT magic FROM `+t.meta+` WHERE id = 1`).Scan(&mg); err != nil || mg != magic {
		return fmt.Errorf("anchorage: drop schema %q: %w", schema, anchor.ErrNotStore)
	}
	_, err = conn.Exec(ctx, `DROP SCHEMA `+t.schema+` CASCADE`)
	return err
}
