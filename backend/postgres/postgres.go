package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/internal/pgcompare"
)

// SchemaVersion is the table layout this build writes and reads. A
// read-write open upgrades layouts 1 to 3 (layout 2 added the index
// table, layout 3 the vals table of field values kept out of line, layout
// 4 dropped the adjacency table: a node's edges are its edge index
// entries); a read-only open reads layouts 2 and 3 as they are.
const SchemaVersion = 4

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
	// EscalateLocks bounds the anchor locks one write transaction takes:
	// one that would take more takes the store-wide lock exclusively
	// instead and runs alone (see the package documentation, Lock
	// escalation). Default DefaultEscalateLocks.
	EscalateLocks int
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
// are group-committed. Across processes and machines, write transactions
// lock only the anchors they read (so writers on disjoint anchors never
// wait for each other) and meet only for the last statement before COMMIT,
// which numbers their change-log entries in commit order (see the change
// log on Commit in the source, and DESIGN.md). Reads run in REPEATABLE
// READ read-only transactions and never block writers.
//
// # Clock
//
// The meta row keeps the greatest stamp any committed transaction wrote;
// a write transaction reads it at begin (the engine's clock observes it),
// and a transaction that reads an anchor stamped later than anything its
// clock had observed (a concurrent commit that landed after it began)
// runs again. So each stamp a transaction writes is greater than every
// stamp on the anchors it read: stamps grow along each anchor's history,
// and a write that began after another committed is stamped later. Writes
// to disjoint anchors on different machines are ordered by their clocks
// only (wall time, then counter), as hybrid logical clocks are.
type Store struct {
	*backend.Engine
}

// driver is the PostgreSQL backend.Driver.
type driver struct {
	pool *pgxpool.Pool
	opts Options
	t    tables
	meta backend.Meta // StoreID, ReplicaID, Schema

	// escalations counts the write transactions that took the store lock
	// exclusively (escalate.go), for tests.
	escalations atomic.Int64
	// lastSet is the greatest clock this driver's transactions committed.
	lastSet atomic.Uint64
	// storeWide makes every write transaction lock the meta row at Begin:
	// the design before issue 12, kept only to be benchmarked against
	// (internal/pgcompare).
	storeWide bool
}

var _ backend.Driver = (*driver)(nil)

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
	if o.MaxConns < 0 || o.OpenTimeout < 0 || o.LockTimeout < 0 || o.MaxGroup < 0 || o.EscalateLocks < 0 {
		return nil, fmt.Errorf("anchorage: open postgres: %w: negative MaxConns, MaxGroup, EscalateLocks or timeout", backend.ErrOptions)
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
	if o.EscalateLocks == 0 {
		o.EscalateLocks = DefaultEscalateLocks
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = time.Second
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("anchorage: postgres dsn: %w", err)
	}
	cfg.MaxConns = o.MaxConns
	if testTracer != nil {
		cfg.ConnConfig.Tracer = testTracer
	}
	cfg.ConnConfig.RuntimeParams["lock_timeout"] = fmt.Sprintf("%d", o.LockTimeout.Milliseconds())
	ctx, cancel := context.WithTimeout(context.Background(), o.OpenTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("anchorage: postgres connect: %w", err)
	}
	s := &driver{pool: pool, opts: o, t: newTables(o.Schema), storeWide: pgcompare.StoreWideLock.Load()}
	if err := s.init(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("anchorage: open postgres schema %q: %w", o.Schema, err)
	}
	return s, nil
}

// testTracer, set by this package's tests before opening, traces every
// statement of the stores they open.
var testTracer pgx.QueryTracer

// Info returns the store's identity.
func (s *driver) Info() backend.Info {
	return backend.Info{Schema: s.meta.Schema, StoreID: s.meta.StoreID, ReplicaID: s.meta.ReplicaID, ReadOnly: s.opts.ReadOnly}
}
