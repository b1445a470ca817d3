package sqlite

import (
	"errors"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/anchorage-db/anchorage/anchor"
)

// TestCommitOutcome pins the classification of a failed COMMIT. Before it,
// every I/O error was reported as anchor.ErrOutcomeUnknown, including
// those SQLite can only meet before it writes the commit frame (a failed
// read or lock), after which the commit certainly did not land.
func TestCommitOutcome(t *testing.T) {
	s := &driver{path: "test.sqlite"}
	for _, tc := range []struct {
		name    string
		code    int
		unknown bool
		full    bool
	}{
		{"read", sqlite3.SQLITE_IOERR_READ, false, false},
		{"short read", sqlite3.SQLITE_IOERR_SHORT_READ, false, false},
		{"lock", sqlite3.SQLITE_IOERR_LOCK, false, false},
		{"nomem", sqlite3.SQLITE_IOERR_NOMEM, false, false},
		{"fstat", sqlite3.SQLITE_IOERR_FSTAT, false, false},
		{"write", sqlite3.SQLITE_IOERR_WRITE, true, false},
		{"fsync", sqlite3.SQLITE_IOERR_FSYNC, true, false},
		{"shm map", sqlite3.SQLITE_IOERR_SHMMAP, true, false},
		{"unlock", sqlite3.SQLITE_IOERR_UNLOCK, true, false},
		{"generic", sqlite3.SQLITE_IOERR, true, false},
		{"full", sqlite3.SQLITE_FULL, false, true},
	} {
		err := s.classifyCommit(tc.code, errors.New("injected"))
		if got := errors.Is(err, anchor.ErrOutcomeUnknown); got != tc.unknown {
			t.Errorf("%s: outcome unknown = %v, want %v (%v)", tc.name, got, tc.unknown, err)
		}
		if got := errors.Is(err, anchor.ErrFull); got != tc.full {
			t.Errorf("%s: full = %v, want %v (%v)", tc.name, got, tc.full, err)
		}
	}
}
