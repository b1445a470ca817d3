package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

var _ backend.Compacter = (*driver)(nil)

// Compact rebuilds the database file without its free pages (VACUUM) on
// the writer connection, then checkpoints the write-ahead log and
// truncates it, holding the lock file meanwhile. The engine calls it with
// no write transaction open. Other processes' writers wait for it; readers
// go on, but one that holds a snapshot keeps the log from being truncated
// until it ends.
func (s *driver) Compact(ctx context.Context) error {
	if s.w == nil {
		return fmt.Errorf("compact %s: %w", s.path, anchor.ErrReadOnly)
	}
	start := time.Now()
	if err := s.lockWrite(ctx); err != nil {
		return &BusyError{Op: "compact", Path: s.path, Waited: time.Since(start), Err: err}
	}
	defer s.unlock()
	if _, err := s.w.conn.ExecContext(ctx, "VACUUM"); err != nil {
		return s.writeErr(err)
	}
	if _, err := s.w.conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return s.writeErr(err)
	}
	return nil
}
