package replica_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// droppy is a link that drops: every n-th merge applied through it fails
// before it reaches the store.
type droppy struct {
	backend.Store
	n     int64
	calls atomic.Int64
}

var errDropped = errors.New("link dropped")

func (d *droppy) Apply(ctx context.Context, w delta.Write) (delta.Result, error) {
	if _, ok := w.(*delta.Merge); ok && d.calls.Add(1)%d.n == 0 {
		return delta.Result{}, errDropped
	}
	return d.Store.Apply(ctx, w)
}

// TestFollow: walkers write on both stores while A follows into B over a
// link that drops every few chunks and B follows into A. Follow backs off
// and retries; once the writers stop, both stores catch up, their full
// dumps are identical, and A→B applied each of A's new records once.
func TestFollow(t *testing.T) {
	a, b := newStore(t), newStore(t)
	root := backendtest.NewRootNode(t, a, anchor.Access{})
	_, err := replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)
	link := &droppy{Store: b, n: 3}

	fctx, stop := context.WithCancel(ctx)
	var sentAB, failures atomic.Int64
	var caughtUp atomic.Bool
	var wg sync.WaitGroup
	follow := func(src, dst backend.Store, count bool) {
		defer wg.Done()
		err := replica.Follow(fctx, src, dst, &replica.FollowOptions{Interval: 2 * time.Millisecond, MaxBackoff: 10 * time.Millisecond,
			Import: replica.ImportOptions{ChunkRecords: 7},
			Report: func(r replica.FollowReport) {
				if count {
					sentAB.Add(int64(r.Records))
					if r.Err != nil {
						failures.Add(1)
						require.ErrorIs(t, r.Err, errDropped)
					}
					caughtUp.Store(r.Err == nil && r.Lag == 0)
				}
			}})
		require.ErrorIs(t, err, context.Canceled)
	}
	wg.Add(2)
	go follow(a, link, true)
	go follow(b, a, false)
	for i := range 40 {
		for _, s := range []backend.Store{a, b} {
			m := tiered.New(s, root, nil)
			for range 5 {
				_, err := m.Create(anchor.KindNode, "W", map[string]any{"i": i})
				require.NoError(t, err)
			}
			require.NoError(t, m.Commit(ctx))
		}
		time.Sleep(time.Millisecond)
	}
	writtenOnA := 40 * 5
	require.Eventually(t, func() bool {
		cur, _, err := replica.ReadCursor(ctx, b, backendtest.Meta(t, a).StoreID)
		require.NoError(t, err)
		return caughtUp.Load() && cur.Through == backendtest.Meta(t, a).Seq
	}, 10*time.Second, time.Millisecond)
	time.Sleep(50 * time.Millisecond) // let B→A finish its last round too
	stop()
	wg.Wait()
	for range 2 {
		_, err = replica.Sync(ctx, a, b, nil)
		require.NoError(t, err)
		_, err = replica.Sync(ctx, b, a, nil)
		require.NoError(t, err)
	}
	requireSameDumps(t, a, b)
	require.Positive(t, failures.Load(), "the link dropped")
	require.Equal(t, int64(writtenOnA), sentAB.Load(), "each of A's records applied once; B's own not echoed")
}
