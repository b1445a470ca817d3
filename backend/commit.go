package backend

import (
	"context"
	"errors"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// run answers every job of a group: it runs them in one transaction and,
// if the transaction itself fails with more than one job in it, runs each
// job in a transaction of its own, so one job's bad write never fails
// another. ctx bounds only the wait for the store's lock.
func (e *Engine) run(ctx context.Context, jobs []*job) {
	jobs, err := e.transact(ctx, jobs)
	if err == nil {
		return
	}
	if len(jobs) > 1 && !errors.Is(err, ErrRetry) && !errors.Is(err, anchor.ErrOutcomeUnknown) && !errors.Is(err, anchor.ErrClosed) {
		for _, j := range jobs {
			e.run(ctx, []*job{j})
		}
		return
	}
	// Nothing landed. Jobs that failed their own checks keep that answer
	// (they wrote nothing either way); the others get the transaction's.
	for _, j := range jobs {
		var we *delta.WriteError
		if j.err == nil || errors.As(j.err, &we) {
			j.res, j.err = delta.Result{}, err
		}
	}
}

// transact runs jobs in one driver transaction and commits it. Once Begin
// returns it claims the jobs whose callers still wait and returns them
// (claim; a caller may give up while Begin waits for a lock). It sets
// each claimed job's result or check error, and returns an error when the
// transaction failed as a whole (nothing landed, unless the error wraps
// anchor.ErrOutcomeUnknown).
func (e *Engine) transact(ctx context.Context, jobs []*job) ([]*job, error) {
	e.beginSince.Store(time.Now().UnixNano())
	tx, err := e.d.Begin(ctx)
	e.beginSince.Store(0)
	jobs = claim(jobs)
	for _, j := range jobs {
		j.res, j.err = delta.Result{}, nil
	}
	if err != nil {
		return jobs, e.retried(err)
	}
	if len(jobs) == 0 {
		tx.Rollback()
		return jobs, nil
	}
	return jobs, e.commit(tx, jobs)
}

// commit runs jobs in the transaction tx has begun and commits it; see
// transact.
func (e *Engine) commit(tx Tx, jobs []*job) error {
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	stored, err := tx.Clock()
	if err != nil {
		return e.retried(err)
	}
	e.clock.Observe(stored)
	var reads []anchor.ID
	for _, j := range jobs {
		reads = append(reads, delta.Reads(j.w)...)
	}
	if err := tx.Prefetch(reads); err != nil {
		return e.retried(err)
	}
	gtx := newGroupTx(tx)
	wrote := false
	for _, j := range jobs {
		// Peek, and record the stamp only if the write lands: a refused
		// write leaves no trace, not even on the clock. Apply validated
		// j.w before queueing it.
		j.res, j.err = delta.Apply(gtx, delta.Env{Stamp: e.clock.Peek(), Replica: e.info.ReplicaID, Limits: e.opts.Limits, Validated: true}, j.w)
		var we *delta.WriteError
		if errors.As(j.err, &we) {
			return e.retried(we.Err)
		}
		if errors.Is(j.err, ErrRetry) {
			// A read met a lock conflict: the driver's transaction may be
			// spoilt (PostgreSQL aborts it), so the whole group runs again.
			return e.retried(j.err)
		}
		if j.err == nil {
			e.clock.Observe(j.res.Stamp)
			e.clock.Observe(j.res.Stats.MaxStamp)
			wrote = true
		}
	}
	if !wrote {
		return nil // every job failed its checks: nothing to commit
	}
	if last := e.clock.Last(); last > stored {
		if err := tx.SetClock(last); err != nil {
			return e.retried(err)
		}
	}
	if err := tx.Commit(); err != nil {
		return e.retried(err)
	}
	committed = true
	e.downNow.Store(false)
	return nil
}

// retried counts lock conflicts and failures to reach the database (they
// explain a caller's wait).
func (e *Engine) retried(err error) error {
	switch {
	case errors.Is(err, ErrUnavailable):
		e.down.Add(1)
		e.downNow.Store(true)
		return err
	case errors.Is(err, ErrRetry):
		e.busy.Add(1)
	}
	e.downNow.Store(false)
	return err
}
