package backend

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// CommitFunc runs fn inside one durable write transaction and commits it,
// or rolls it back if fn (or the commit) fails. The GroupCommitter's fn runs
// delta.Apply for each batch of a group.
type CommitFunc func(fn func(delta.Tx) error) error

// ApplyAll runs delta.Apply for each batch in tx, recording each batch's
// check error in errs[i] (such a batch wrote nothing). It returns an error
// only when the transaction itself failed (a *delta.WriteError), which means
// it must be rolled back and nothing of any batch lands.
func ApplyAll(tx delta.Tx, batches []*delta.Batch, errs []error) error {
	for i, b := range batches {
		errs[i] = delta.Apply(tx, b)
		var we *delta.WriteError
		if errors.As(errs[i], &we) {
			return errs[i]
		}
	}
	return nil
}

// GroupCommitter queues concurrent Apply calls and hands them to a
// CommitFunc in groups, so many walkers share one durable commit (one fsync).
// Batches are checked and applied in queue order; a batch that fails its
// checks is answered with its error and the others still commit.
//
// With grouping off, each Apply runs its own transaction in the caller's
// goroutine (the backend serialises them); this is the baseline the
// benchmarks compare against.
//
// A GroupCommitter is safe for concurrent use. With grouping on it runs one
// goroutine from NewGroupCommitter until Close.
type GroupCommitter struct {
	commit CommitFunc
	group  bool
	max    int
	reqs   chan *request

	mu     sync.RWMutex
	closed bool
	done   chan struct{}
}

type request struct {
	b     *delta.Batch
	state atomic.Int32 // queued → taken, or queued → abandoned
	err   chan error
}

const (
	queued int32 = iota
	taken
	abandoned
)

// NewGroupCommitter returns a committer that puts at most max batches (64 if
// max <= 0) in one transaction, or, when group is false, one batch per
// transaction.
func NewGroupCommitter(commit CommitFunc, group bool, max int) *GroupCommitter {
	if max <= 0 {
		max = 64
	}
	g := &GroupCommitter{commit: commit, group: group, max: max, done: make(chan struct{})}
	if group {
		g.reqs = make(chan *request, max)
		go g.run()
	} else {
		close(g.done)
	}
	return g
}

// Apply queues b and waits for its answer. If ctx ends while b is still
// queued, b is withdrawn and ctx's error returned; once the committer has
// taken b, Apply waits for the true outcome, so its answer never lies.
func (g *GroupCommitter) Apply(ctx context.Context, b *delta.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return fmt.Errorf("apply: %w", anchor.ErrClosed)
	}
	if !g.group {
		defer g.mu.RUnlock()
		return g.apply([]*delta.Batch{b})[0]
	}
	r := &request{b: b, err: make(chan error, 1)}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		g.mu.RUnlock()
		return ctx.Err()
	}
	g.mu.RUnlock()
	select {
	case err := <-r.err:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		return <-r.err
	}
}

func (g *GroupCommitter) run() {
	defer close(g.done)
	group := make([]*request, 0, g.max)
	for r := range g.reqs {
		group = append(group[:0], r)
		// Let walkers that were just answered queue their next batch
		// before draining: it costs microseconds and saves fsyncs.
		runtime.Gosched()
	drain:
		for len(group) < g.max {
			select {
			case r, ok := <-g.reqs:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		g.flush(group)
	}
}

func (g *GroupCommitter) flush(group []*request) {
	batches := make([]*delta.Batch, 0, len(group))
	live := group[:0:0]
	for _, r := range group {
		if r.state.CompareAndSwap(queued, taken) {
			batches = append(batches, r.b)
			live = append(live, r)
		}
	}
	if len(batches) == 0 {
		return
	}
	for i, err := range g.apply(batches) {
		live[i].err <- err
	}
}

// apply commits batches in one transaction and returns each one's answer.
func (g *GroupCommitter) apply(batches []*delta.Batch) []error {
	errs := make([]error, len(batches))
	if err := g.commit(func(tx delta.Tx) error { return ApplyAll(tx, batches, errs) }); err != nil {
		// The transaction failed: nothing landed, whatever Apply said.
		// Batches that failed their own checks keep that answer; the
		// others, including the one whose write broke the transaction,
		// get the transaction's error (which the backend may have
		// classified, e.g. as anchor.ErrFull).
		for i, b := range batches {
			b.Stamp = 0
			var we *delta.WriteError
			if errs[i] == nil || errors.As(errs[i], &we) {
				errs[i] = err
			}
		}
	}
	return errs
}

// Close stops accepting batches, answers every queued one, and waits for
// the committer goroutine to exit. It is idempotent.
func (g *GroupCommitter) Close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		if g.group {
			close(g.reqs)
		}
	}
	g.mu.Unlock()
	<-g.done
}
