package backend

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// Engine is the Store every backend returns: it owns the write path over a
// Driver. Apply validates a write, queues it for group commit (or runs it
// alone with Options.NoGroupCommit), runs delta.Apply (its only caller)
// inside the driver's write transaction with a stamp from the store's HLC
// clock, retries lock conflicts while the caller's context allows, and
// answers each caller with its own outcome.
//
// # The caller's context
//
//   - Before the write is queued: if ctx is done, Apply returns ctx's
//     error and nothing happens.
//   - While it is queued (waiting for the committer, or for its group's
//     transaction to begin, or, without group commit, for the one write
//     transaction): if ctx ends, the write is withdrawn, nothing of it
//     lands, and Apply returns ctx's error; as a *BusyError if another
//     connection's lock is what kept it waiting.
//   - Once its transaction has started, the transaction runs to its end
//     whatever ctx does, so the answer is the truth: nil means durable,
//     an error means nothing landed (anchor.ErrOutcomeUnknown is the one
//     honest exception).
//   - If the transaction met a lock conflict (another process holds the
//     store), nothing landed and the write is queued again after a short
//     randomised pause, for as long as ctx allows; then Apply returns a
//     *BusyError. So too if the database could not be reached (a
//     failover), except that Apply then returns an error wrapping
//     ErrUnavailable and ctx's error.
//
// # Group isolation
//
// A write with invalid input fails alone, before it is queued, with an
// error wrapping anchor.ErrInvalid. A write that fails its checks inside
// the transaction writes nothing and the others of its group go on. If the
// transaction itself fails (the driver could not write), the group is run
// again one write per transaction, so each caller gets its own verdict and
// an innocent write lands.
//
// An Engine is safe for concurrent use by any number of goroutines. After
// Close returns, every method returns an error wrapping anchor.ErrClosed.
type Engine struct {
	d     Driver
	name  string
	info  Info
	opts  Options
	clock *anchor.Clock
	gc    *committer    // nil without group commit or when read-only
	wsem  chan struct{} // held by the one write transaction in this process (a group's or a Purge chunk's)

	busy       atomic.Uint64 // transactions that met a lock conflict
	down       atomic.Uint64 // transactions that met ErrUnavailable
	downNow    atomic.Bool   // the last transaction to end met ErrUnavailable
	beginSince atomic.Int64  // unix nanos at which a running Begin started; 0 if none
	beginFree  bool          // the driver's Begin waits for no lock (LockFreeBegin)
	indexed    atomic.Bool   // the store's index entries are built (delta.IndexedKey seen)

	closeCtx    context.Context // done once Close starts: stop waiting for locks
	closeCancel context.CancelFunc
	mu          sync.RWMutex // guards closed against inflight.Add
	closed      bool
	inflight    sync.WaitGroup
	closeOnce   sync.Once
	closeErr    error
}

var _ Store = (*Engine)(nil)

// New returns the engine over d; name (a path or schema) appears in
// errors. The engine's clock starts at the store's persisted HLC. On error
// d is closed.
func New(d Driver, name string, opts *Options) (*Engine, error) {
	o, err := opts.WithDefaults()
	if err != nil {
		d.Close()
		return nil, err
	}
	e := &Engine{d: d, name: name, info: d.Info(), opts: o, clock: anchor.NewClock(o.Now), wsem: make(chan struct{}, 1)}
	if lf, ok := d.(LockFreeBegin); ok {
		e.beginFree = lf.BeginTakesNoLock()
	}
	e.closeCtx, e.closeCancel = context.WithCancel(context.Background())
	if err := d.View(context.Background(), func(v Snapshot) error { e.clock.Observe(v.Meta().HLC); return nil }); err != nil {
		e.closeCancel()
		d.Close()
		return nil, err
	}
	if !e.info.ReadOnly && !o.NoGroupCommit {
		e.gc = newCommitter(func(jobs []*job) {
			// wsem keeps Purge's transactions apart from the group's.
			e.wsem <- struct{}{}
			defer func() { <-e.wsem }()
			e.run(e.closeCtx, jobs)
		}, o.MaxGroup)
	}
	if !e.info.ReadOnly {
		if err := e.ensureIndexed(context.Background()); err != nil {
			e.Close()
			return nil, fmt.Errorf("anchorage: building the secondary indexes of %s: %w", name, err)
		}
		e.indexed.Store(true)
	}
	return e, nil
}

// Driver returns the driver under e (for tests and tools that wrap it).
func (e *Engine) Driver() Driver { return e.d }

// enter registers a running call, or fails once Close has begun.
func (e *Engine) enter(op string) error {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.closed {
		return fmt.Errorf("%s: %w", op, anchor.ErrClosed)
	}
	e.inflight.Add(1)
	return nil
}

// Apply writes w atomically and durably; see Store and the context
// contract on Engine.
func (e *Engine) Apply(ctx context.Context, w delta.Write) (delta.Result, error) {
	if err := e.enter("apply"); err != nil {
		return delta.Result{}, err
	}
	defer e.inflight.Done()
	if e.info.ReadOnly {
		return delta.Result{}, fmt.Errorf("apply: %s: %w", e.name, anchor.ErrReadOnly)
	}
	if err := ctx.Err(); err != nil {
		return delta.Result{}, err
	}
	if err := delta.Validate(w, e.opts.Limits); err != nil {
		return delta.Result{}, err
	}
	start, busy0, down0 := time.Now(), e.busy.Load(), e.down.Load()
	var last error // the last retried failure
	for attempt := 0; ; attempt++ {
		j := &job{w: w}
		err := e.submit(ctx, j)
		if err == nil {
			err = j.err
		}
		if err == nil {
			return j.res, nil
		}
		if !errors.Is(err, ErrRetry) {
			return delta.Result{}, e.explain(ctx, err, start, busy0, down0)
		}
		last = err
		if e.closeCtx.Err() != nil {
			return delta.Result{}, fmt.Errorf("apply: %w before another connection released %s", anchor.ErrClosed, e.name)
		}
		if !Backoff(ctx, e.opts.MaxBackoff, attempt) {
			if errors.Is(last, ErrUnavailable) {
				// Not a lock: the database could not be reached, or the
				// connection was lost before COMMIT. Nothing landed.
				return delta.Result{}, fmt.Errorf("apply: %s: %w for %s: %w (last: %v)",
					e.name, ErrUnavailable, time.Since(start).Round(time.Millisecond), ctx.Err(), last)
			}
			return delta.Result{}, &BusyError{Op: "apply", Path: e.name, Waited: time.Since(start), Err: ctx.Err()}
		}
	}
}

// submit runs j through the committer, or alone in this goroutine.
func (e *Engine) submit(ctx context.Context, j *job) error {
	if e.gc != nil {
		return e.gc.submit(ctx, j)
	}
	select {
	case e.wsem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.wsem }()
	wait, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.closeCtx, cancel)
	defer stop()
	e.run(wait, []*job{j})
	return nil
}

// explain turns a context error met while queued behind a transaction that
// was waiting for another connection's lock into a *BusyError, and one
// met while queued behind transactions that could not reach the database
// into an error wrapping ErrUnavailable.
func (e *Engine) explain(ctx context.Context, err error, start time.Time, busy0, down0 uint64) error {
	cerr := ctx.Err()
	if cerr == nil || !errors.Is(err, cerr) {
		return err
	}
	if e.down.Load() != down0 || e.downNow.Load() {
		return fmt.Errorf("apply: %s: %w for %s: %w", e.name, ErrUnavailable, time.Since(start).Round(time.Millisecond), cerr)
	}
	since := e.beginSince.Load()
	if e.busy.Load() != busy0 || !e.beginFree && since != 0 && time.Since(time.Unix(0, since)) > time.Millisecond {
		return &BusyError{Op: "apply", Path: e.name, Waited: time.Since(start), Err: cerr}
	}
	return err
}

// Backoff waits before retry attempt+1 of an operation that met a lock
// conflict: exponential from 1ms, capped at max, with the upper half
// randomised so that processes that collided do not collide again in
// lockstep. It returns false, at once, if ctx ends first. The engine uses
// it between transactions; drivers use it for their own retries (a read
// or an open that found the store locked), so one policy serves all.
func Backoff(ctx context.Context, max time.Duration, attempt int) bool {
	d := max
	if attempt < 20 {
		d = min(d, time.Millisecond<<attempt)
	}
	t := time.NewTimer(d/2 + rand.N(d/2+1))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// View calls fn with a consistent read-only snapshot of committed state.
func (e *Engine) View(ctx context.Context, fn func(View) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := e.enter("view"); err != nil {
		return err
	}
	defer e.inflight.Done()
	return e.d.View(ctx, func(s Snapshot) error { return fn(&view{Snapshot: s, e: e}) })
}

// Size returns the bytes the store occupies on storage.
func (e *Engine) Size(ctx context.Context) (int64, error) {
	if err := e.enter("size"); err != nil {
		return 0, err
	}
	defer e.inflight.Done()
	return e.d.Size(ctx)
}

// Close stops accepting calls, stops waiting for locks held by other
// processes, answers every queued write, waits for running calls to
// return, and closes the driver. It blocks until then and must not be
// called from inside a View callback. Close is idempotent: later calls
// wait for the first and return its result.
func (e *Engine) Close() error {
	e.closeOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		e.closeCancel()
		if e.gc != nil {
			e.gc.close()
		}
		e.inflight.Wait()
		e.closeErr = e.d.Close()
	})
	return e.closeErr
}
