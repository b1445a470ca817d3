package sqlite

import "github.com/anchorage-db/anchorage/backend"

// Errors of this package. Everything else the store reports uses the
// sentinels of package anchor (anchor.ErrNotStore, anchor.ErrVersion,
// anchor.ErrCorrupt, anchor.ErrBusy, anchor.ErrClosed, anchor.ErrReadOnly,
// anchor.ErrOutcomeUnknown, ...), tested with errors.Is.
var (
	// ErrOptions: Open was given options it cannot honour (the engine's
	// sentinel, backend.ErrOptions).
	ErrOptions = backend.ErrOptions
)

// BusyError reports that another connection (usually another process)
// held a lock on the database for longer than the caller was willing to
// wait; see backend.BusyError.
type BusyError = backend.BusyError
