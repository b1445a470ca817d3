package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/anchorage-db/anchorage/anchor"
)

// The write-ahead log's bound; see Options.WALLimit and Options.MaxViewAge.

// WALSize returns the size in bytes of the store's write-ahead log (the
// -wal file next to the database; 0 when there is none). Size includes it.
func (s *Store) WALSize() (int64, error) { return walSize(s.path) }

func walSize(path string) (int64, error) {
	fi, err := os.Stat(path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// errViewAge is the cause of a View's context once MaxViewAge has passed.
var errViewAge = errors.New("the view is older than Options.MaxViewAge")

// viewContext returns the context a View's read transaction runs under:
// with MaxViewAge, one that ends that long from now. database/sql rolls a
// transaction back when its context ends, which releases the snapshot
// (and with it the log's frames) even while the callback still runs.
func (s *driver) viewContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.opts.MaxViewAge <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, s.opts.MaxViewAge, errViewAge)
}

// viewErr turns the failure of a read in a View that outlived MaxViewAge
// into an error wrapping anchor.ErrBusy.
func viewErr(ctx context.Context, err error) error {
	if err != nil && errors.Is(context.Cause(ctx), errViewAge) {
		return fmt.Errorf("%w: %w (%v)", anchor.ErrBusy, errViewAge, err)
	}
	return err
}

// Size returns the bytes used by the database file and its write-ahead log.
func (s *driver) Size(context.Context) (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, err
	}
	wal, err := walSize(s.path)
	return fi.Size() + wal, err
}
