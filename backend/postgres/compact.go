package postgres

import (
	"context"

	"github.com/anchorage-db/anchorage/backend"
)

var _ backend.Compacter = (*driver)(nil)

// Compact runs VACUUM (ANALYZE) on the store's tables: the space of
// deleted rows becomes reusable, and empty pages at the end of a table go
// back to the file system. It does not rewrite tables (VACUUM FULL takes
// an exclusive lock on each table for as long as it runs): that, like
// autovacuum's settings, is the database administrator's call.
func (s *driver) Compact(ctx context.Context) error {
	for _, t := range []string{s.t.anchors, s.t.idx, s.t.vals, s.t.log, s.t.kv, s.t.meta} {
		if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE) `+t); err != nil {
			return err
		}
	}
	return nil
}
