package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// Store is the SQLite durable tier: one database file that any number of
// processes may open at once. It is the engine (backend.Engine: Apply,
// View, Size, Close) over this package's driver.
//
// A Store is safe for concurrent use by any number of goroutines. Writes go
// through one writer connection per Store, used by one transaction at a
// time; with group commit (the default) concurrent Apply calls share one
// transaction. Write transactions of all Stores on the file, in this and
// other processes, take turns on the lock file (see the package
// documentation). Views run on a pool of read connections and never block,
// nor are blocked by, writers of this or any other process. After Close
// returns, every method fails with an error wrapping anchor.ErrClosed.
type Store struct {
	*backend.Engine
	path string
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// driver is the SQLite backend.Driver.
type driver struct {
	path string
	opts Options
	meta backend.Meta // StoreID, ReplicaID, Schema; HLC and Seq are read per view

	wdb *sql.DB // nil when read-only
	w   *writer
	// lock queues this Store's writer behind other processes' (nil when
	// read-only); locked: the writer's transaction holds it.
	lock   *writeLock
	locked bool
	// begins counts BEGIN IMMEDIATE statements run (tests check that a
	// writer queued on lock does not poll).
	begins atomic.Uint64
	rdb    *sql.DB
	r      *readers
}

var _ backend.Driver = (*driver)(nil)

// Open opens the store in the SQLite database at path, creating the file
// and the schema if the file does not exist or is empty (unless
// opts.ReadOnly). A file that is not a SQLite database, or a SQLite
// database of another application, yields an error wrapping
// anchor.ErrNotStore; a store of a newer schema one wrapping
// anchor.ErrVersion; a damaged file one wrapping anchor.ErrCorrupt. A
// refused file is left unchanged. Open waits up to opts.OpenTimeout for
// other processes' locks; see the package documentation for the rest.
func Open(path string, opts *Options) (*Store, error) {
	d, err := OpenDriver(path, opts)
	if err != nil {
		return nil, err
	}
	o := d.(*driver).opts
	e, err := backend.New(d, d.(*driver).path, &backend.Options{NoGroupCommit: o.NoGroupCommit, MaxGroup: o.MaxGroup, MaxBackoff: o.MaxBackoff, Now: o.Now, Limits: o.Limits})
	if err != nil {
		return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
	}
	return &Store{Engine: e, path: d.(*driver).path}, nil
}

// OpenDriver opens the database as Open does and returns the bare driver,
// for backend.New (tests wrap it to inject faults). Options fields that
// belong to the engine (NoGroupCommit, MaxGroup, Now) are ignored here.
func OpenDriver(path string, opts *Options) (backend.Driver, error) {
	o, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
	}
	exists, err := checkFile(abs)
	if err != nil {
		return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
	}
	if o.ReadOnly && !exists {
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("anchorage: open %s read-only: %w", path, err)
		}
		return nil, fmt.Errorf("anchorage: open %s read-only: %w: the file is empty", path, anchor.ErrNotStore)
	}
	s := &driver{path: abs, opts: o}
	s.meta.Schema = SchemaVersion
	ctx, cancel := context.WithTimeout(context.Background(), o.OpenTimeout)
	defer cancel()
	if err := s.open(ctx); err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
	}
	return s, nil
}

func (s *driver) dsn(mode string, pragmas ...string) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(s.path)}
	q := "mode=" + mode
	pragmas = append([]string{fmt.Sprintf("busy_timeout(%d)", s.opts.BusyTimeout.Milliseconds())}, pragmas...)
	for _, p := range pragmas {
		q += "&_pragma=" + url.QueryEscape(p)
	}
	return u.String() + "?" + q
}

func (s *driver) open(ctx context.Context) error {
	if s.opts.ReadOnly {
		var err error
		if s.rdb, err = s.pool(s.dsn("ro", "query_only(1)")); err != nil {
			return err
		}
		err = s.retryOpen(ctx, func() error {
			s.meta.Schema = SchemaVersion
			tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
			if err != nil {
				return err
			}
			defer tx.Rollback()
			state, version, err := checkSchema(ctx, tx)
			switch {
			case err != nil:
				return err
			case state == schemaFresh:
				return fmt.Errorf("%w: an empty SQLite database", anchor.ErrNotStore)
			case state == schemaOlder && version < minReadable:
				return fmt.Errorf("%w: schema version %d is older than this build's %d; open it read-write once to migrate", anchor.ErrVersion, version, SchemaVersion)
			case state == schemaOlder:
				// Readable as it is (see minReadable); left unmigrated.
				s.meta.Schema = version
			}
			return s.loadMeta(ctx, tx)
		})
		if err != nil {
			return err
		}
		s.r, err = prepareReaders(ctx, s.rdb)
		return s.openErr(err)
	}

	var err error
	sync := s.opts.Synchronous.String()
	if s.opts.NoSync {
		sync = "OFF"
	}
	writerPragmas := []string{"synchronous(" + sync + ")",
		fmt.Sprintf("journal_size_limit(%d)", s.opts.WALLimit)}
	if s.opts.MaxPages > 0 {
		writerPragmas = append(writerPragmas, fmt.Sprintf("max_page_count(%d)", s.opts.MaxPages))
	}
	s.wdb, err = sql.Open("sqlite", s.dsn("rwc", writerPragmas...))
	if err != nil {
		return err
	}
	s.wdb.SetMaxOpenConns(1)
	// Connecting runs the pragmas, which may meet another process that
	// is creating the file: retried like everything else in Open.
	var conn *sql.Conn
	if err := s.retryOpen(ctx, func() (err error) { conn, err = s.wdb.Conn(ctx); return err }); err != nil {
		return err
	}
	if s.opts.MaxSize > 0 {
		// The cap in bytes, in the database's own pages.
		if err := s.retryOpen(ctx, func() error { return capSize(ctx, conn, s.opts.MaxSize) }); err != nil {
			conn.Close()
			return err
		}
	}
	if err := s.retryOpen(ctx, func() error { return s.initSchema(ctx, conn) }); err != nil {
		conn.Close()
		return err
	}
	// Preparing reads the schema, which another process switching the
	// file to WAL mode may hold locked for a moment: retry like the rest.
	var w *writer
	if err := s.retryOpen(ctx, func() (err error) { w, err = prepareWriter(ctx, conn); return err }); err != nil {
		conn.Close()
		return err
	}
	s.w = w
	s.lock = openWriteLock(s.path)
	if s.rdb, err = s.pool(s.dsn("rw", "query_only(1)")); err != nil {
		return err
	}
	return s.retryOpen(ctx, func() (err error) { s.r, err = prepareReaders(ctx, s.rdb); return err })
}

func (s *driver) pool(dsn string) (*sql.DB, error) {
	db, err := newReadPool(dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(s.opts.ReadConns)
	db.SetMaxIdleConns(s.opts.ReadConns)
	return db, nil
}

// initSchema creates or checks (and migrates) the schema in one IMMEDIATE
// transaction, then switches the database to WAL mode. Nothing is written
// to a database that checkSchema refuses.
func (s *driver) initSchema(ctx context.Context, conn *sql.Conn) (err error) {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		// The transaction may have opened although ctx ended (see attempt).
		conn.ExecContext(context.Background(), "ROLLBACK")
		return err
	}
	defer func() {
		if err != nil {
			conn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	state, version, err := checkSchema(ctx, conn)
	if err != nil {
		return err
	}
	switch state {
	case schemaFresh, schemaOlder:
		for v := version; v < SchemaVersion; v++ {
			if _, err := conn.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrate to schema %d: %w", v+1, err)
			}
		}
		if state == schemaFresh {
			store, replica := anchor.NewID(), anchor.NewID()
			if _, err := conn.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES
				('magic', ?), ('store_id', ?), ('replica_id', ?), ('hlc', 0), ('seq', 0)`,
				magic, store[:], replica[:]); err != nil {
				return err
			}
			if _, err := conn.ExecContext(ctx, "UPDATE meta SET crc = "+sumFunc+"('meta', key, value)"); err != nil {
				return err
			}
			if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA application_id = %d", applicationID)); err != nil {
				return err
			}
		}
		if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion)); err != nil {
			return err
		}
	}
	if err := s.loadMeta(ctx, conn); err != nil {
		return err
	}
	// Not under ctx: a COMMIT that took effect must not be reported as
	// failed because ctx ended meanwhile.
	if _, err := conn.ExecContext(context.Background(), "COMMIT"); err != nil {
		return err
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("cannot switch %s to WAL mode (journal mode is %q)", s.path, mode)
	}
	return nil
}

// loadMeta reads the store's identity and persisted clock.
func (s *driver) loadMeta(ctx context.Context, q querier) error {
	rows, err := q.QueryContext(ctx, "SELECT key, value, crc FROM meta")
	if err != nil {
		return err
	}
	m := make(map[string]any)
	for rows.Next() {
		var k string
		var v, crc any
		if err := rows.Scan(&k, &v, &crc); err != nil {
			rows.Close()
			return err
		}
		if !crcOK(crc, rowSum("meta", k, v)) {
			rows.Close()
			return fmt.Errorf("%w: checksum mismatch: meta row %q", anchor.ErrCorrupt, k)
		}
		m[k] = v
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := idCol(&s.meta.StoreID, m["store_id"]); err != nil {
		return fmt.Errorf("%w: meta store_id %v", anchor.ErrCorrupt, err)
	}
	if err := idCol(&s.meta.ReplicaID, m["replica_id"]); err != nil {
		return fmt.Errorf("%w: meta replica_id %v", anchor.ErrCorrupt, err)
	}
	for _, k := range []string{"hlc", "seq"} {
		if _, ok := m[k].(int64); !ok {
			return fmt.Errorf("%w: meta %s holds %T", anchor.ErrCorrupt, k, m[k])
		}
	}
	return nil
}

// retryOpen runs fn until it does not find the database locked, backing off
// between attempts, for as long as ctx allows.
func (s *driver) retryOpen(ctx context.Context, fn func() error) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !(isBusy(err) || ctx.Err() != nil && isCanceled(err)) {
			return s.openErr(err)
		}
		if !backend.Backoff(ctx, s.opts.MaxBackoff, attempt) {
			return &BusyError{Op: "open", Path: s.path, Waited: time.Since(start), Err: ctx.Err()}
		}
	}
}

// Info returns the store's identity.
func (s *driver) Info() backend.Info {
	return backend.Info{Schema: s.meta.Schema, StoreID: s.meta.StoreID, ReplicaID: s.meta.ReplicaID, ReadOnly: s.opts.ReadOnly}
}

// rollback ends the write transaction without writing, and releases the
// write lock.
func (s *driver) rollback() error {
	defer s.unlock()
	if _, err := s.w.rollback.ExecContext(context.Background()); err != nil {
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_ERROR {
			return nil // "no transaction is active": SQLite rolled back already
		}
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// Close closes the connections; the engine calls it once every
// transaction and View has ended.
func (s *driver) Close() error { return s.closeDBs() }

func (s *driver) closeDBs() error {
	var errs []error
	if s.w != nil {
		s.w.close()
		errs = append(errs, s.w.conn.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.close())
	}
	if s.wdb != nil {
		errs = append(errs, s.wdb.Close())
	}
	if s.r != nil {
		s.r.close()
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	return errors.Join(errs...)
}

// capSize sets PRAGMA max_page_count on conn to maxSize bytes' worth of the
// database's pages.
func capSize(ctx context.Context, conn *sql.Conn, maxSize int64) error {
	var pageSize int64
	if err := conn.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return err
	}
	var pages int64
	return conn.QueryRowContext(ctx, fmt.Sprintf("PRAGMA max_page_count = %d", max(1, maxSize/pageSize))).Scan(&pages)
}
