package sqlite

import (
	"errors"
	"fmt"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/anchorage-db/anchorage/anchor"
)

// notWritten are the extended I/O error codes SQLite can only meet, during
// a COMMIT in WAL mode, before it starts writing the commit frame (the
// transaction's last frame): reading, locking, allocating, asking the
// filesystem about a file. A COMMIT that failed with one of them certainly
// left nothing a recovery could replay. Every other I/O error (a failed or
// short write, fsync, the shared-memory index updated after the frames are
// written, unlock after the commit) may come after the commit frame
// reached the log.
var notWritten = map[int]bool{
	sqlite3.SQLITE_IOERR_READ:              true,
	sqlite3.SQLITE_IOERR_SHORT_READ:        true,
	sqlite3.SQLITE_IOERR_LOCK:              true,
	sqlite3.SQLITE_IOERR_RDLOCK:            true,
	sqlite3.SQLITE_IOERR_CHECKRESERVEDLOCK: true,
	sqlite3.SQLITE_IOERR_NOMEM:             true,
	sqlite3.SQLITE_IOERR_ACCESS:            true,
	sqlite3.SQLITE_IOERR_FSTAT:             true,
	sqlite3.SQLITE_IOERR_SEEK:              true,
	sqlite3.SQLITE_IOERR_GETTEMPPATH:       true,
	sqlite3.SQLITE_IOERR_CONVPATH:          true,
	sqlite3.SQLITE_IOERR_BEGIN_ATOMIC:      true,
	sqlite3.SQLITE_IOERR_ROLLBACK_ATOMIC:   true,
	sqlite3.SQLITE_IOERR_AUTH:              true,
}

// commitErr classifies the error of a COMMIT that failed (after the
// driver rolled back): a full disk is anchor.ErrFull and a lock conflict
// backend.ErrRetry (see writeErr); an I/O error after which the commit
// frame may be in the log is anchor.ErrOutcomeUnknown; anything else
// certainly wrote nothing and passes as it is.
func (s *driver) commitErr(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return s.writeErr(err)
	}
	return s.classifyCommit(se.Code(), err)
}

func (s *driver) classifyCommit(code int, err error) error {
	switch {
	case code&0xff == sqlite3.SQLITE_IOERR && !notWritten[code]:
		return fmt.Errorf("apply: %w: commit to %s failed with an I/O error after which the log may hold it: %v", anchor.ErrOutcomeUnknown, s.path, err)
	case code&0xff == sqlite3.SQLITE_IOERR:
		return fmt.Errorf("apply: commit to %s failed before writing it: %w", s.path, err)
	case code&0xff == sqlite3.SQLITE_FULL:
		return fmt.Errorf("apply: commit to %s: %w: %w", s.path, anchor.ErrFull, err)
	}
	return s.writeErr(err)
}
