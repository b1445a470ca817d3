package backend

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// job is one Apply call's write on its way through a transaction.
type job struct {
	w     delta.Write
	res   delta.Result
	err   error
	state atomic.Int32 // queued → taken (claim), or queued → abandoned (its caller gave up)
	done  chan struct{}
}

const (
	queued int32 = iota
	taken
	abandoned
)

// committer queues concurrent jobs and hands them to run in groups, so
// many walkers share one durable commit (one fsync). It runs one goroutine
// from newCommitter until close.
type committer struct {
	run  func(jobs []*job)
	max  int
	reqs chan *job

	// waiting counts the callers inside submit: queued, in a group, or
	// just answered. A group is capped at half of them (see limit).
	waiting atomic.Int64

	mu     sync.RWMutex
	closed bool
	done   chan struct{}
}

// newCommitter starts a committer that hands each group of up to max jobs
// to run. run must claim the jobs it answers (claim) before it sets their
// results: only a claimed job's caller is woken, and an unclaimed one
// still waiting would wait for ever.
func newCommitter(run func([]*job), max int) *committer {
	g := &committer{run: run, max: max, reqs: make(chan *job, max), done: make(chan struct{})}
	go g.loop()
	return g
}

// submit queues j and waits until run has answered it. If ctx ends while
// j is still queued, or while its group's transaction waits to begin, j
// is withdrawn and ctx's error returned; once the transaction has begun
// and claimed j, submit waits for the true outcome, so its answer never
// lies.
func (g *committer) submit(ctx context.Context, j *job) error {
	j.done = make(chan struct{})
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return fmt.Errorf("apply: %w", anchor.ErrClosed)
	}
	select {
	case g.reqs <- j:
	case <-ctx.Done():
		g.mu.RUnlock()
		return ctx.Err()
	}
	g.mu.RUnlock()
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		if j.state.CompareAndSwap(queued, abandoned) {
			return ctx.Err()
		}
		<-j.done
		return nil
	}
}

func (g *committer) loop() {
	defer close(g.done)
	group := make([]*job, 0, g.max)
	last := 0 // the size of the group before
	for j := range g.reqs {
		limit := g.limit()
		group = append(group[:0], j)
		// Let walkers that were just answered queue their next batch
		// before draining: it costs microseconds and saves fsyncs. Yield
		// again while batches keep arriving, until the group is as large
		// as the one before (those walkers were woken together and are
		// on their way back) or no batch arrived since the last yield.
		for len(group) < limit {
			runtime.Gosched()
			n := len(group)
			group = g.drain(group, limit)
			if len(group) == n || len(group) >= last {
				break
			}
		}
		last = len(group)
		g.flush(group)
	}
}

// limit is the size the next group may grow to: half the callers
// waiting, so that while one group commits the other half can run and
// queue the next (a group of every caller would leave the walkers idle
// during the commit and the committer idle while they run), but at least
// minGroup and at most g.max.
func (g *committer) limit() int {
	return min(g.max, max(minGroup, int(g.waiting.Load()/2)))
}

// minGroup is the least a group is capped at (unless max is less).
const minGroup = 64

// drain appends the queued jobs to group, up to limit, without waiting.
func (g *committer) drain(group []*job, limit int) []*job {
	for len(group) < limit {
		select {
		case j, ok := <-g.reqs:
			if !ok {
				return group
			}
			group = append(group, j)
		default:
			return group
		}
	}
	return group
}

// flush hands the group's jobs that are still wanted to run, which claims
// them once its transaction has begun (claim), and wakes the callers of
// the jobs it claimed. Until then a caller may still withdraw its job: a
// transaction waiting for another process's lock holds no caller past
// its context.
func (g *committer) flush(group []*job) {
	live := group[:0:0]
	for _, j := range group {
		if j.state.Load() == queued {
			live = append(live, j)
		}
	}
	if len(live) == 0 {
		return
	}
	g.run(live)
	for _, j := range live {
		if j.state.Load() == taken {
			close(j.done)
		}
	}
}

// claim marks the jobs whose callers still wait as taken (from then on
// their callers wait for the true outcome) and returns them; a job its
// caller withdrew is dropped. Claiming a taken job again keeps it.
func claim(jobs []*job) []*job {
	live := jobs[:0:0]
	for _, j := range jobs {
		if j.state.CompareAndSwap(queued, taken) || j.state.Load() == taken {
			live = append(live, j)
		}
	}
	return live
}

// close stops accepting jobs, answers every queued one, and waits for the
// committer goroutine to exit. It is idempotent.
func (g *committer) close() {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		close(g.reqs)
	}
	g.mu.Unlock()
	<-g.done
}
