package backend_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeTx counts what Apply does without storing anything durable.
type fakeTx struct {
	clock *anchor.Clock
	seen  map[anchor.ID]*anchor.Anchor
}

func (t *fakeTx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	if a, ok := t.seen[id]; ok {
		return a.Clone(), nil
	}
	return nil, &anchor.Error{ID: id, Err: anchor.ErrNotFound}
}
func (t *fakeTx) Adjacent(anchor.ID, func(anchor.Adj) error) error { return nil }
func (t *fakeTx) Stamp() anchor.HLC                                { return t.clock.Now() }
func (t *fakeTx) PutAnchor(a *anchor.Anchor) error                 { t.seen[a.ID] = a.Clone(); return nil }
func (t *fakeTx) PutAdj(anchor.Adj) error                          { return nil }
func (t *fakeTx) DeleteAdj(anchor.ID, anchor.ID) error             { return nil }
func (t *fakeTx) Logged(anchor.ID) error                           { return nil }

func newBatch() *delta.Batch {
	a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode}
	return &delta.Batch{Changes: []delta.Change{{ID: a.ID, Create: a}}}
}

func TestGroupCommitShares(t *testing.T) {
	var txs atomic.Int32
	var mu sync.Mutex
	state := map[anchor.ID]*anchor.Anchor{}
	release := make(chan struct{})
	var first sync.Once
	commit := func(fn func(delta.Tx) error) error {
		first.Do(func() { <-release }) // hold the first transaction so others queue
		mu.Lock()
		defer mu.Unlock()
		txs.Add(1)
		return fn(&fakeTx{clock: anchor.NewClock(nil), seen: state})
	}
	g := backend.NewGroupCommitter(commit, true, 64)
	defer g.Close()
	const n = 50
	var wg sync.WaitGroup
	var calling atomic.Int32
	for range n {
		wg.Go(func() {
			calling.Add(1)
			require.NoError(t, g.Apply(context.Background(), newBatch()))
		})
	}
	// Let every caller queue behind the held transaction (the queue holds
	// 64, so no send blocks), however slowly the goroutines get scheduled.
	for calling.Load() < n {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	close(release)
	wg.Wait()
	require.Len(t, state, n)
	require.Less(t, int(txs.Load()), n, "concurrent batches must share transactions")
	t.Logf("%d batches in %d transactions", n, txs.Load())
}

func TestGroupCommitTxFailureAnswersAll(t *testing.T) {
	boom := errors.New("fsync failed")
	commit := func(fn func(delta.Tx) error) error {
		if err := fn(&fakeTx{clock: anchor.NewClock(nil), seen: map[anchor.ID]*anchor.Anchor{}}); err != nil {
			return err
		}
		return boom // the commit itself fails after every batch applied
	}
	for _, group := range []bool{true, false} {
		g := backend.NewGroupCommitter(commit, group, 8)
		b := newBatch()
		err := g.Apply(context.Background(), b)
		require.ErrorIs(t, err, boom)
		require.Zero(t, b.Stamp, "a batch that did not land carries no stamp")
		g.Close()
	}
}

func TestGroupCommitOneBatchFails(t *testing.T) {
	state := map[anchor.ID]*anchor.Anchor{}
	var mu sync.Mutex
	commit := func(fn func(delta.Tx) error) error {
		mu.Lock()
		defer mu.Unlock()
		return fn(&fakeTx{clock: anchor.NewClock(nil), seen: state})
	}
	g := backend.NewGroupCommitter(commit, true, 64)
	defer g.Close()
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			b := newBatch()
			if i == 7 {
				b.Changes = append(b.Changes, delta.Change{ID: anchor.NewID(), Delete: true})
			}
			errs[i] = g.Apply(context.Background(), b)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if i == 7 {
			require.ErrorIs(t, err, anchor.ErrNotFound)
		} else {
			require.NoError(t, err)
		}
	}
	require.Len(t, state, 19)
}

func TestGroupCommitClosed(t *testing.T) {
	g := backend.NewGroupCommitter(func(fn func(delta.Tx) error) error { return nil }, true, 0)
	g.Close()
	g.Close()
	require.ErrorIs(t, g.Apply(context.Background(), newBatch()), anchor.ErrClosed)
}

func TestGroupCommitContextWhileQueued(t *testing.T) {
	release, entered := make(chan struct{}), make(chan struct{})
	var first sync.Once
	var applied atomic.Int32
	commit := func(fn func(delta.Tx) error) error {
		first.Do(func() { close(entered); <-release })
		applied.Add(1)
		return fn(&fakeTx{clock: anchor.NewClock(nil), seen: map[anchor.ID]*anchor.Anchor{}})
	}
	g := backend.NewGroupCommitter(commit, true, 1)
	defer g.Close()
	done := make(chan error)
	go func() { done <- g.Apply(context.Background(), newBatch()) }() // holds the committer
	// The committer is busy with the first batch: the next one stays queued.
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	queued := newBatch()
	err := g.Apply(ctx, queued)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	close(release)
	require.NoError(t, <-done)
	g.Close()
	require.Equal(t, int32(1), applied.Load(), "a withdrawn batch is never applied")
}
