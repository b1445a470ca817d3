package sqlite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// Begin takes the lock file (writeLock), waiting in the kernel behind other
// processes' writers for as long as ctx allows, then opens the write
// transaction with BEGIN IMMEDIATE, which takes the database's write lock
// at once: SQLite waits for it up to BusyTimeout (and no longer than ctx
// allows; only a writer that does not take the lock file can hold it),
// then Begin fails with an error wrapping backend.ErrRetry and the engine
// decides, by its callers' contexts, whether to try again. The lock file
// is held until Commit or Rollback.
func (s *driver) Begin(ctx context.Context) (backend.Tx, error) {
	if s.w == nil {
		return nil, fmt.Errorf("apply: %s: %w", s.path, anchor.ErrReadOnly)
	}
	bctx := ctx
	if ctx.Err() != nil {
		// Nobody may wait any longer (the store is closing), but the
		// writes were taken: commit them if the database is free now.
		c, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		defer cancel()
		bctx = c
	}
	if err := s.lockWrite(bctx); err != nil {
		return nil, fmt.Errorf("begin on %s: %w: %w", s.path, backend.ErrRetry, err)
	}
	s.begins.Add(1)
	_, err := s.w.begin.ExecContext(bctx)
	if err != nil {
		// When bctx ends while BEGIN runs, the driver reports bctx's error
		// even if SQLite did open the transaction: never leave the writer
		// inside one, or every later BEGIN fails.
		if rerr := s.rollback(); rerr != nil {
			return nil, errors.Join(err, rerr)
		}
		if isBusy(err) || isCanceled(err) {
			return nil, fmt.Errorf("begin on %s: %w: %w", s.path, backend.ErrRetry, err)
		}
		return nil, fullErr(s.path, err)
	}
	// From here on the transaction runs to its end whatever the callers'
	// contexts do, so that its answer is the truth.
	t := &wtx{s: s, w: s.w, ctx: context.Background(), seen: make(map[anchor.ID]*anchor.Anchor), sums: make(map[anchor.ID]map[string]int64)}
	if err := t.start(); err != nil {
		s.rollback()
		return nil, s.writeErr(err)
	}
	return t, nil
}

// writeErr classifies an error met inside a write transaction: a lock
// conflict is backend.ErrRetry, a full disk anchor.ErrFull.
func (s *driver) writeErr(err error) error {
	if isBusy(err) {
		return fmt.Errorf("%s: %w: %w", s.path, backend.ErrRetry, err)
	}
	return fullErr(s.path, err)
}

// Clock returns the persisted HLC read when the transaction began.
func (t *wtx) Clock() (anchor.HLC, error) { return t.hlc, nil }

// SetClock persists h with the transaction.
func (t *wtx) SetClock(h anchor.HLC) error {
	return t.exec(t.w.setMeta, int64(h), "hlc")
}

// Commit persists the change-log sequence and commits. A transaction that
// wrote nothing is rolled back instead.
func (t *wtx) Commit() error {
	s := t.s
	if t.err != nil {
		s.rollback()
		return s.writeErr(t.err)
	}
	if !t.wrote {
		return s.rollback()
	}
	if t.seqChanged {
		if err := t.exec(t.w.setMeta, int64(t.seq), "seq"); err != nil {
			s.rollback()
			return s.writeErr(err)
		}
	}
	if _, err := t.w.commit.ExecContext(t.ctx); err != nil {
		s.rollback()
		return s.commitErr(err)
	}
	s.unlock()
	return nil
}

// lockWrite takes the lock file for the writer's next transaction.
func (s *driver) lockWrite(ctx context.Context) error {
	locked, err := s.lock.lock(ctx)
	s.locked = locked
	return err
}

// unlock releases the lock file if the writer holds it. Idempotent.
func (s *driver) unlock() {
	if s.locked {
		s.locked = false
		s.lock.unlock()
	}
}

// Rollback ends the transaction without writing.
func (t *wtx) Rollback() error { return t.s.rollback() }

// Prefetch does nothing: SQLite's reads are local and cheap.
func (t *wtx) Prefetch([]anchor.ID) error { return nil }
