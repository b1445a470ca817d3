package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// Store is the SQLite durable tier: one database file that any number of
// processes may open at once.
//
// A Store is safe for concurrent use by any number of goroutines. Writes go
// through one writer connection per Store, used by one transaction at a
// time; with group commit (the default) concurrent Apply calls share one
// transaction. Views run on a pool of read connections and never block,
// nor are blocked by, writers of this or any other process. After Close
// returns, every method fails with an error wrapping anchor.ErrClosed.
type Store struct {
	path  string
	opts  Options
	clock *anchor.Clock
	meta  backend.Meta // StoreID, ReplicaID, Schema; HLC and Seq are read per view

	wdb  *sql.DB // nil when read-only
	w    *writer
	wsem chan struct{} // held by the one transaction using w
	gc   *backend.GroupCommitter

	rdb *sql.DB
	r   *readers

	closeCtx    context.Context // done once Close starts: stop waiting for locks
	closeCancel context.CancelFunc
	mu          sync.RWMutex // guards closed against inflight.Add
	closed      bool
	inflight    sync.WaitGroup // Apply and View calls running
	closeOnce   sync.Once
	closeErr    error

	busyEvents atomic.Uint64 // times a transaction found the database locked
	beginSince atomic.Int64  // unix nanos at which a running BEGIN IMMEDIATE started; 0 if none
}

var (
	_ backend.Store = (*Store)(nil)
	_ backend.Sizer = (*Store)(nil)
)

// Open opens the store in the SQLite database at path, creating the file
// and the schema if the file does not exist or is empty (unless
// opts.ReadOnly). A file that is not a SQLite database, or a SQLite
// database of another application, yields an error wrapping
// anchor.ErrNotStore; a store of a newer schema one wrapping
// anchor.ErrVersion; a damaged file one wrapping anchor.ErrCorrupt. A
// refused file is left unchanged. Open waits up to opts.OpenTimeout for
// other processes' locks; see the package documentation for the rest.
func Open(path string, opts *Options) (*Store, error) {
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
	s := &Store{path: abs, opts: o, clock: anchor.NewClock(o.Now), wsem: make(chan struct{}, 1)}
	s.closeCtx, s.closeCancel = context.WithCancel(context.Background())
	s.meta.Schema = SchemaVersion
	ctx, cancel := context.WithTimeout(context.Background(), o.OpenTimeout)
	defer cancel()
	if err := s.open(ctx); err != nil {
		s.closeDBs()
		s.closeCancel()
		return nil, fmt.Errorf("anchorage: open %s: %w", path, err)
	}
	if !o.ReadOnly && !o.NoGroupCommit {
		s.gc = backend.NewGroupCommitter(s.commit, true, o.MaxGroup)
	}
	return s, nil
}

func (s *Store) dsn(mode string, pragmas ...string) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(s.path)}
	q := "mode=" + mode
	pragmas = append([]string{fmt.Sprintf("busy_timeout(%d)", s.opts.BusyTimeout.Milliseconds())}, pragmas...)
	for _, p := range pragmas {
		q += "&_pragma=" + url.QueryEscape(p)
	}
	return u.String() + "?" + q
}

func (s *Store) open(ctx context.Context) error {
	if s.opts.ReadOnly {
		var err error
		if s.rdb, err = s.pool(s.dsn("ro", "query_only(1)")); err != nil {
			return err
		}
		err = s.retryOpen(ctx, func() error {
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
			case state == schemaOlder:
				return fmt.Errorf("%w: schema version %d is older than this build's %d; open it read-write once to migrate", anchor.ErrVersion, version, SchemaVersion)
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
	writerPragmas := []string{"synchronous(" + s.opts.Synchronous.String() + ")"}
	if s.opts.MaxPages > 0 {
		writerPragmas = append(writerPragmas, fmt.Sprintf("max_page_count(%d)", s.opts.MaxPages))
	}
	s.wdb, err = sql.Open("sqlite", s.dsn("rwc", writerPragmas...))
	if err != nil {
		return err
	}
	s.wdb.SetMaxOpenConns(1)
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return s.openErr(err)
	}
	if err := s.retryOpen(ctx, func() error { return s.initSchema(ctx, conn) }); err != nil {
		conn.Close()
		return err
	}
	w, err := prepareWriter(ctx, conn)
	if err != nil {
		conn.Close()
		return s.openErr(err)
	}
	s.w = w
	if s.rdb, err = s.pool(s.dsn("rw", "query_only(1)")); err != nil {
		return err
	}
	if s.r, err = prepareReaders(ctx, s.rdb); err != nil {
		return s.openErr(err)
	}
	return nil
}

func (s *Store) pool(dsn string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", dsn)
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
func (s *Store) initSchema(ctx context.Context, conn *sql.Conn) (err error) {
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
func (s *Store) loadMeta(ctx context.Context, q querier) error {
	rows, err := q.QueryContext(ctx, "SELECT key, value FROM meta")
	if err != nil {
		return err
	}
	m := make(map[string]any)
	for rows.Next() {
		var k string
		var v any
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return err
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
	s.clock.Observe(anchor.HLC(uint64(m["hlc"].(int64))))
	return nil
}

// retryOpen runs fn until it does not find the database locked, backing off
// between attempts, for as long as ctx allows.
func (s *Store) retryOpen(ctx context.Context, fn func() error) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !(isBusy(err) || ctx.Err() != nil && isCanceled(err)) {
			return s.openErr(err)
		}
		if !sleep(ctx, s.backoff(attempt)) {
			return &BusyError{Op: "open", Path: s.path, Waited: time.Since(start), Err: ctx.Err()}
		}
	}
}

// openErr translates SQLite's verdict on a damaged or foreign file.
func (s *Store) openErr(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch {
	case se.Code()&0xff == sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%w: SQLite does not recognise the file: %v", anchor.ErrNotStore, err)
	case se.Code()&0xff == sqlite3.SQLITE_CORRUPT, se.Code() == sqlite3.SQLITE_IOERR_SHORT_READ:
		return fmt.Errorf("%w: %v", anchor.ErrCorrupt, err)
	}
	return err
}

// readErr translates a database error met while reading: damage becomes
// anchor.ErrCorrupt, a lock (which WAL readers only meet in rare recovery
// cases) a *BusyError. Other errors, such as those of callbacks, pass.
func (s *Store) readErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if isBusy(err) {
		return &BusyError{Op: op, Path: s.path, Err: err}
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch {
		case se.Code()&0xff == sqlite3.SQLITE_CORRUPT, se.Code()&0xff == sqlite3.SQLITE_NOTADB,
			se.Code() == sqlite3.SQLITE_IOERR_SHORT_READ:
			return fmt.Errorf("%s: %w: %s: %v", op, anchor.ErrCorrupt, s.path, err)
		}
	}
	return err
}

func isBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	// SQLITE_BUSY and its extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT,
	// BUSY_TIMEOUT): another connection holds a lock; it will let go.
	// SQLITE_LOCKED is not among them: without a shared cache it means a
	// conflict inside one connection, which waiting does not cure.
	return se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func isCanceled(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_INTERRUPT {
		return true
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// backoff returns the pause before retry attempt+1: exponential from 1ms,
// capped at MaxBackoff, with the upper half randomised so that processes
// that collided do not collide again in lockstep.
func (s *Store) backoff(attempt int) time.Duration {
	d := s.opts.MaxBackoff
	if attempt < 20 {
		d = min(d, time.Millisecond<<attempt)
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// enter registers a running call, or fails once Close has begun.
func (s *Store) enter(op string) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("%s: %w", op, anchor.ErrClosed)
	}
	s.inflight.Add(1)
	return nil
}

// Apply writes b atomically and durably; see backend.Store. If another
// process holds the database, Apply retries the whole transaction, with
// backoff, for as long as ctx allows; only when ctx is done does it give up,
// with a *BusyError (wrapping anchor.ErrBusy and ctx's error) saying which
// file and how long it waited. Nothing of b has landed then.
func (s *Store) Apply(ctx context.Context, b *delta.Batch) error {
	if err := s.enter("apply"); err != nil {
		return err
	}
	defer s.inflight.Done()
	if s.opts.ReadOnly {
		return fmt.Errorf("apply: %s: %w", s.path, anchor.ErrReadOnly)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	if s.gc == nil {
		err := s.applyAlone(ctx, b)
		if err != nil {
			b.Stamp = 0
		}
		return err
	}
	// Lock contention seen at any time during this call (not only during
	// its last submission) explains a deadline that passed while queued:
	// the caller waited because the database was busy.
	busy0 := s.busyEvents.Load()
	for attempt := 0; ; attempt++ {
		err := s.gc.Apply(ctx, b)
		if err == nil {
			return nil
		}
		b.Stamp = 0 // it may hold the stamp of an attempt that was rolled back
		if !errors.Is(err, errLocked) && !isBusy(err) {
			return s.explain(ctx, err, start, busy0)
		}
		// The group's transaction found the database locked and rolled
		// back: nothing of b landed. Submit it again after a pause, for
		// as long as this caller's context allows.
		if !sleep(ctx, s.backoff(attempt)) {
			return &BusyError{Op: "apply", Path: s.path, Waited: time.Since(start), Err: ctx.Err()}
		}
	}
}

// errLocked answers the batches of a group whose transaction found the
// database locked. Apply never returns it: it resubmits the batch or,
// once the caller's context is done, returns a *BusyError.
var errLocked = errors.New("anchorage: database locked by another connection")

// explain turns a context error met while queued behind a writer that was
// waiting for another connection's lock into a *BusyError measured from
// the caller's start.
func (s *Store) explain(ctx context.Context, err error, start time.Time, busy0 uint64) error {
	var be *BusyError
	if errors.As(err, &be) {
		return &BusyError{Op: "apply", Path: s.path, Waited: time.Since(start), Err: ctx.Err()}
	}
	cerr := ctx.Err()
	if cerr != nil && errors.Is(err, cerr) {
		since := s.beginSince.Load()
		if s.busyEvents.Load() != busy0 || since != 0 && time.Since(time.Unix(0, since)) > time.Millisecond {
			return &BusyError{Op: "apply", Path: s.path, Waited: time.Since(start), Err: cerr}
		}
	}
	return err
}

// applyAlone (Options.NoGroupCommit) runs b in its own transaction in the
// caller's goroutine, waiting for the writer and for locks only as long as
// ctx allows.
func (s *Store) applyAlone(ctx context.Context, b *delta.Batch) error {
	start := time.Now()
	busy0 := s.busyEvents.Load()
	select {
	case s.wsem <- struct{}{}:
	case <-ctx.Done():
		return s.explain(ctx, ctx.Err(), start, busy0)
	}
	defer func() { <-s.wsem }()
	wait, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.closeCtx, cancel)
	defer stop()
	errs := make([]error, 1)
	if err := s.transact(wait, func(tx delta.Tx) error { return backend.ApplyAll(tx, []*delta.Batch{b}, errs) }); err != nil {
		return s.explain(ctx, err, start, busy0)
	}
	return errs[0]
}

// commit is the group committer's CommitFunc: one attempt of one
// transaction for the group. If the database is locked past BusyTimeout it
// answers every batch with errLocked, and each caller decides, by its own
// context, whether to submit again: so the committer never keeps a caller
// past its deadline.
func (s *Store) commit(fn func(delta.Tx) error) error {
	s.wsem <- struct{}{}
	defer func() { <-s.wsem }()
	err := s.attempt(s.closeCtx, fn)
	if isBusy(err) || s.closeCtx.Err() != nil && isCanceled(err) {
		s.busyEvents.Add(1)
		if s.closeCtx.Err() != nil {
			return fmt.Errorf("apply: %w before another connection released %s", anchor.ErrClosed, s.path)
		}
		return fmt.Errorf("%w: %s", errLocked, s.path)
	}
	return err
}

// transact runs fn in one write transaction, retrying the whole
// transaction, after a randomised exponential backoff, each time it finds
// the database locked, until it commits, fails for another reason, or wait
// is done. fn must be safe to run again: delta.Apply re-reads everything
// inside the transaction, and each attempt gets a fresh wtx.
func (s *Store) transact(wait context.Context, fn func(delta.Tx) error) error {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err := s.attempt(wait, fn)
		if err == nil || !(isBusy(err) || wait.Err() != nil && isCanceled(err)) {
			return err
		}
		s.busyEvents.Add(1)
		if wait.Err() != nil || !sleep(wait, s.backoff(attempt)) {
			if s.closeCtx.Err() != nil {
				return fmt.Errorf("apply: %w before another connection released %s", anchor.ErrClosed, s.path)
			}
			return &BusyError{Op: "apply", Path: s.path, Waited: time.Since(start), Err: context.Cause(wait)}
		}
	}
}

// attempt runs one try of a write transaction: BEGIN IMMEDIATE (waiting
// under busy_timeout, ended early when wait is done), fn, persisting the
// clock and sequence, COMMIT.
func (s *Store) attempt(wait context.Context, fn func(delta.Tx) error) error {
	bctx := wait
	if wait.Err() != nil {
		// Nobody may wait any longer (the store is closing), but the
		// batches were taken: commit them if the database is free now.
		c, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		bctx = c
	}
	s.beginSince.Store(time.Now().UnixNano())
	_, err := s.w.begin.ExecContext(bctx)
	s.beginSince.Store(0)
	if err != nil {
		// When bctx ends while BEGIN runs, the driver reports bctx's error
		// even if SQLite did open the transaction: never leave the writer
		// inside one, or every later BEGIN fails.
		if rerr := s.rollback(); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	// From here on the transaction runs to its end whatever the callers'
	// contexts do, so that its answer is the truth.
	ctx := context.Background()
	t := &wtx{s: s, w: s.w, ctx: ctx, seen: make(map[anchor.ID]*anchor.Anchor)}
	err = t.start()
	if err == nil {
		err = fn(t)
	}
	if err == nil {
		err = t.err
	}
	if err == nil && !t.wrote {
		return s.rollback()
	}
	if err == nil {
		err = t.finish()
	}
	if err == nil && s.opts.WriteFault != nil {
		err = s.opts.WriteFault()
	}
	if err != nil {
		if rerr := s.rollback(); rerr != nil {
			return errors.Join(fullErr(s.path, err), rerr)
		}
		return fullErr(s.path, err)
	}
	if _, err := s.w.commit.ExecContext(ctx); err != nil {
		s.rollback()
		if errors.Is(fullErr(s.path, err), anchor.ErrFull) {
			return fullErr(s.path, err)
		}
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_IOERR {
			// The log may hold the commit record although SQLite
			// reported failure; recovery could replay it.
			return fmt.Errorf("apply: %w: commit to %s failed with an I/O error: %v", anchor.ErrOutcomeUnknown, s.path, err)
		}
		return err
	}
	return nil
}

// fullErr marks SQLITE_FULL (the disk, or Options.MaxPages, is full) as
// anchor.ErrFull; other errors pass unchanged.
func fullErr(path string, err error) error {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("apply: commit to %s: %w: %w", path, anchor.ErrFull, err)
	}
	return err
}

func (s *Store) rollback() error {
	if _, err := s.w.rollback.ExecContext(context.Background()); err != nil {
		var se *sqlite.Error
		if errors.As(err, &se) && se.Code() == sqlite3.SQLITE_ERROR {
			return nil // "no transaction is active": SQLite rolled back already
		}
		return fmt.Errorf("rollback: %w", err)
	}
	return nil
}

// View calls fn with a consistent snapshot of committed state, taken from
// the read pool. It never waits for writers; in the rare case SQLite
// reports the database locked to a reader it retries with backoff while
// ctx allows.
func (s *Store) View(ctx context.Context, fn func(backend.View) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter("view"); err != nil {
		return err
	}
	defer s.inflight.Done()
	start := time.Now()
	for attempt := 0; ; attempt++ {
		tx, err := s.rdb.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err == nil {
			v := &view{s: s, tx: tx, ctx: ctx, st: make(map[*sql.Stmt]*sql.Stmt)}
			if err = v.start(); err == nil {
				defer tx.Rollback()
				return fn(v)
			}
			tx.Rollback()
		}
		if !isBusy(err) {
			return s.readErr("view", err)
		}
		s.busyEvents.Add(1)
		if !sleep(ctx, s.backoff(attempt)) {
			return &BusyError{Op: "view", Path: s.path, Waited: time.Since(start), Err: ctx.Err()}
		}
	}
}

// Size returns the bytes used by the database file and its write-ahead log.
func (s *Store) Size() (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, err
	}
	n := fi.Size()
	if wal, err := os.Stat(s.path + "-wal"); err == nil {
		n += wal.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, err
	}
	return n, nil
}

// Close releases the store. It stops accepting calls, stops waiting for
// locks held by other processes (a queued batch that cannot get the lock at
// once is answered with an error wrapping anchor.ErrClosed), waits for
// every running Apply to be answered and every running View to return, and
// closes the connections. It blocks until then; it must not be called from
// inside a View callback. Close is idempotent: later calls wait for the
// first and return its result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.closeCancel()
		if s.gc != nil {
			s.gc.Close()
		}
		s.inflight.Wait()
		s.closeErr = s.closeDBs()
	})
	return s.closeErr
}

func (s *Store) closeDBs() error {
	var errs []error
	if s.w != nil {
		s.w.close()
		errs = append(errs, s.w.conn.Close())
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
