package sqlite

import (
	"fmt"
	"runtime"
	"time"

	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// Synchronous selects how hard a commit pushes data to stable storage. It
// sets SQLite's PRAGMA synchronous on the writer connection (the database
// always runs in WAL mode).
type Synchronous int

const (
	// SyncFull (the default) fsyncs the write-ahead log at every commit:
	// once Apply returns nil, the batch survives a process crash, an OS
	// crash and a power cut.
	SyncFull Synchronous = iota
	// SyncNormal fsyncs only when the log is checkpointed into the main
	// file. A committed batch survives a crash of the process, but an OS
	// crash or power cut may roll back the most recent commits (the
	// database stays consistent: whole batches disappear, never parts of
	// one). In exchange each commit skips an fsync.
	SyncNormal
)

func (s Synchronous) String() string {
	switch s {
	case SyncFull:
		return "FULL"
	case SyncNormal:
		return "NORMAL"
	}
	return fmt.Sprintf("Synchronous(%d)", int(s))
}

// DefaultWALLimit is Options.WALLimit's default: 64 MiB.
const DefaultWALLimit = 64 << 20

// Options configures Open. A nil *Options, and every zero field, means the
// default. Options is plain data: Open copies it, so one value may serve
// several Opens, and changing it afterwards has no effect on a Store.
type Options struct {
	// Synchronous is the durability of a commit; see SyncFull (default)
	// and SyncNormal.
	Synchronous Synchronous
	// NoSync skips fsync altogether (PRAGMA synchronous OFF), as bolt's
	// NoSync does: a crash of the OS may then lose or corrupt recent
	// commits. For tests and throwaway stores only; not with SyncNormal.
	NoSync bool

	// NoGroupCommit makes every Apply run its own transaction in the
	// caller's goroutine instead of sharing one with concurrent callers.
	// Slower (one fsync per batch); the baseline for benchmarks.
	NoGroupCommit bool
	// MaxGroup caps how many batches share one transaction (see
	// backend.Options). Default 1024.
	MaxGroup int
	// Limits bound one write (see delta.Limits); zero fields: defaults.
	Limits delta.Limits

	// ReadOnly opens an existing store for reading only: nothing in the
	// database file is changed, Apply fails with anchor.ErrReadOnly, and a
	// missing file is an error rather than a new store. The writers' lock
	// file is neither created nor locked. (SQLite may still create the
	// -wal and -shm files next to a WAL database, as any reader does.)
	ReadOnly bool

	// ReadConns is the size of the read connection pool used by View.
	// Default: GOMAXPROCS, at least 4.
	ReadConns int

	// BusyTimeout is how long one attempt waits, inside SQLite (PRAGMA
	// busy_timeout), for a lock another connection holds before the
	// whole transaction is retried after a backoff. Writers of this
	// package queue on the lock file instead (see the package
	// documentation), so this wait only meets writers that do not take
	// it, and every writer where the lock file is not available. It is
	// not a limit on Apply: only the caller's context limits how long
	// Apply waits. Default 10ms. SQLite's own wait polls at growing
	// intervals (1, 2, 5, 10ms, ...) and a waiter is not woken when the
	// lock is released, so a short BusyTimeout with jittered retries
	// keeps the database busier when several processes write: a long one
	// lets waiters sleep through free time.
	BusyTimeout time.Duration
	// MaxBackoff bounds the randomised exponential pause (from 1ms)
	// between two attempts of a transaction that found the database
	// locked. Default 10ms.
	MaxBackoff time.Duration
	// OpenTimeout is how long Open waits for other processes to release
	// the locks it needs to create or check the schema. Default 10s.
	OpenTimeout time.Duration

	// Now is the wall clock for HLC stamps. Default time.Now.
	Now func() time.Time

	// MaxPages caps the database file at this many pages (PRAGMA
	// max_page_count on the writer; 0: no cap). A commit that would grow
	// the file past it fails with anchor.ErrFull and writes nothing;
	// reopening with a larger cap lets writes continue. A full disk gives
	// the same error.
	MaxPages int64
	// MaxSize is the same cap in bytes, as bolt's MaxSize (rounded down
	// to whole pages of the database's page size). Set MaxSize or
	// MaxPages, not both.
	MaxSize int64

	// WALLimit is the size the write-ahead log (the -wal file next to the
	// database) returns to: once every reader that still needs the log's
	// older frames has left, the next commit restarts the log and cuts the
	// file down to WALLimit bytes (PRAGMA journal_size_limit). SQLite
	// checkpoints the log into the database after every commit that finds
	// it over wal_autocheckpoint's 1000 pages (about 4 MiB), so with no
	// View older than a few commits the file stays under the larger of
	// WALLimit and those 1000 pages, plus one transaction. A checkpoint
	// cannot pass the oldest open View, so while a View is held the log
	// grows by everything committed meanwhile (bound that with
	// MaxViewAge). Default 64 MiB (DefaultWALLimit).
	WALLimit int64
	// MaxViewAge, if positive, ends every View's snapshot that long after
	// it began: its reads then fail with an error wrapping
	// anchor.ErrBusy, and the log can be checkpointed past it. The log
	// then holds at most WALLimit plus what is committed in MaxViewAge.
	// Default 0: a View keeps its snapshot until its callback returns.
	MaxViewAge time.Duration
}

// withDefaults returns a copy of o (nil allowed) with every zero field
// filled in, or an error wrapping ErrOptions.
func withDefaults(o *Options) (Options, error) {
	var c Options
	if o != nil {
		c = *o
	}
	eng, err := (&backend.Options{NoGroupCommit: c.NoGroupCommit, MaxGroup: c.MaxGroup, MaxBackoff: c.MaxBackoff, Now: c.Now}).WithDefaults()
	if err != nil {
		return c, err
	}
	c.MaxGroup, c.MaxBackoff, c.Now = eng.MaxGroup, eng.MaxBackoff, eng.Now
	switch {
	case c.Synchronous != SyncFull && c.Synchronous != SyncNormal:
		return c, fmt.Errorf("%w: unknown Synchronous %d", ErrOptions, int(c.Synchronous))
	case c.ReadConns < 0:
		return c, fmt.Errorf("%w: ReadConns %d is negative", ErrOptions, c.ReadConns)
	case c.BusyTimeout < 0 || c.MaxBackoff < 0 || c.OpenTimeout < 0:
		return c, fmt.Errorf("%w: negative timeout", ErrOptions)
	case c.MaxPages < 0 || c.MaxSize < 0:
		return c, fmt.Errorf("%w: negative MaxPages or MaxSize", ErrOptions)
	case c.MaxPages > 0 && c.MaxSize > 0:
		return c, fmt.Errorf("%w: MaxPages and MaxSize are one cap: set one", ErrOptions)
	case c.NoSync && c.Synchronous != SyncFull:
		return c, fmt.Errorf("%w: NoSync turns fsync off; it does not combine with Synchronous %s", ErrOptions, c.Synchronous)
	case c.WALLimit < 0 || c.MaxViewAge < 0:
		return c, fmt.Errorf("%w: negative WALLimit or MaxViewAge", ErrOptions)
	}
	if c.WALLimit == 0 {
		c.WALLimit = DefaultWALLimit
	}
	if c.ReadConns == 0 {
		c.ReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 10 * time.Millisecond
	}
	if c.OpenTimeout == 0 {
		c.OpenTimeout = 10 * time.Second
	}
	return c, nil
}
