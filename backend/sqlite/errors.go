package sqlite

import (
	"context"
	"errors"
	"fmt"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

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

// openErr translates SQLite's verdict on a damaged or foreign file, and a
// full disk met while creating the schema.
func (s *driver) openErr(err error) error {
	code, ok := resultCode(err)
	if !ok {
		return err
	}
	switch {
	case code&0xff == sqlite3.SQLITE_NOTADB:
		return fmt.Errorf("%w: SQLite does not recognise the file: %v", anchor.ErrNotStore, err)
	case code&0xff == sqlite3.SQLITE_CORRUPT, code == sqlite3.SQLITE_IOERR_SHORT_READ:
		return fmt.Errorf("%w: %v", anchor.ErrCorrupt, err)
	case code&0xff == sqlite3.SQLITE_FULL, code == sqlite3.SQLITE_IOERR_SHMSIZE:
		// Creating or migrating the schema ran out of space (the disk,
		// or MaxPages): SQLite rolled the transaction back, so the file
		// holds the store as it was, or nothing the next Open will not
		// create again. SHMSIZE: the -shm index could not be extended,
		// which on a full disk is how switching a new file to WAL mode
		// fails.
		return fmt.Errorf("%w: %v", anchor.ErrFull, err)
	}
	return err
}

// readErr translates a database error met while reading: damage becomes
// anchor.ErrCorrupt, a lock (which WAL readers only meet in rare recovery
// cases) a *BusyError. Other errors, such as those of callbacks, pass.
func (s *driver) readErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if isBusy(err) {
		return &BusyError{Op: op, Path: s.path, Err: err}
	}
	if code, ok := resultCode(err); ok {
		switch {
		case code&0xff == sqlite3.SQLITE_CORRUPT, code&0xff == sqlite3.SQLITE_NOTADB,
			code == sqlite3.SQLITE_IOERR_SHORT_READ:
			return fmt.Errorf("%s: %w: %s: %v", op, anchor.ErrCorrupt, s.path, err)
		}
	}
	return err
}

// resultCode returns the SQLite result code err carries: modernc's
// *sqlite.Error, or a scanner's *stepError.
func resultCode(err error) (int, bool) {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code(), true
	}
	var st *stepError
	if errors.As(err, &st) {
		return st.code, true
	}
	return 0, false
}

func isBusy(err error) bool {
	code, ok := resultCode(err)
	// SQLITE_BUSY and its extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT,
	// BUSY_TIMEOUT): another connection holds a lock; it will let go.
	// SQLITE_LOCKED is not among them: without a shared cache it means a
	// conflict inside one connection, which waiting does not cure.
	return ok && code&0xff == sqlite3.SQLITE_BUSY
}

func isCanceled(err error) bool {
	if code, ok := resultCode(err); ok && code&0xff == sqlite3.SQLITE_INTERRUPT {
		return true
	}
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// fullErr marks SQLITE_FULL (the disk, or Options.MaxPages, is full) as
// anchor.ErrFull; other errors pass unchanged.
func fullErr(path string, err error) error {
	if code, ok := resultCode(err); ok && code&0xff == sqlite3.SQLITE_FULL {
		return fmt.Errorf("apply: commit to %s: %w: %w", path, anchor.ErrFull, err)
	}
	return err
}
