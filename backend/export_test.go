package backend

import (
	"context"

	"github.com/anchorage-db/anchorage/delta"
)

// BareCommitter is the engine's group committer with a run function of
// the benchmark's choosing: the baseline the full merge path is compared
// against (same queueing and grouping, no checks, no merge).
type BareCommitter struct{ g *committer }

// NewBareCommitter starts a committer grouping up to max writes and
// handing each group to run, whose error answers every write of it.
func NewBareCommitter(max int, run func(ws []delta.Write) error) *BareCommitter {
	return &BareCommitter{g: newCommitter(func(jobs []*job) {
		jobs = claim(jobs) // as the engine does once its transaction has begun
		ws := make([]delta.Write, len(jobs))
		for i, j := range jobs {
			ws[i] = j.w
		}
		err := run(ws)
		for _, j := range jobs {
			j.err = err
		}
	}, max)}
}

// Submit queues w and waits for its group's answer.
func (b *BareCommitter) Submit(ctx context.Context, w delta.Write) error {
	j := &job{w: w}
	if err := b.g.submit(ctx, j); err != nil {
		return err
	}
	return j.err
}

// Close stops the committer.
func (b *BareCommitter) Close() { b.g.close() }

// DefaultMaxGroup is Options.MaxGroup's default.
const DefaultMaxGroup = defaultMaxGroup

// GroupTx wraps tx in the engine's per-group read cache.
func GroupTx(tx Tx) Tx { return newGroupTx(tx) }
