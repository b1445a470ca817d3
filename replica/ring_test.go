package replica_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// fakeClock is a wall clock a test moves by hand (shared by a store's
// engine goroutine, hence atomic).
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) now() time.Time { return time.UnixMilli(c.ms.Load()) }

// ringSize returns the seeds and steps of the ring test: 3 x 300 by
// default, ANCHORAGE_SOAK=N multiplies both.
func ringSize() (seeds, steps int) {
	seeds, steps = 3, 300
	if n, err := strconv.Atoi(os.Getenv("ANCHORAGE_SOAK")); err == nil && n > 1 {
		seeds, steps = seeds*n, steps*n
	}
	return seeds, steps
}

// TestRandomRing: three stores in a ring (A→B→C→A) take random changes of
// every kind (nodes, objects, edges, fields, Access.All and per-root
// grants, disconnects, node deletes and restores) with clocks that tie and
// drift a few milliseconds, and random one-way syncs along the ring in
// chunks of 1 to 8 records. After the final syncs, the full dumps of all
// three are byte-identical and equal the independent model of the merge
// rules.
func TestRandomRing(t *testing.T) {
	seeds, steps := ringSize()
	for seed := range seeds {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { runRing(t, uint64(seed), steps) })
	}
}

func runRing(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, 0xa11c0))
	base := int64(1_700_000_000_000)
	clocks := make([]*fakeClock, 3)
	stores := make([]backend.Store, 3)
	for i := range stores {
		clocks[i] = &fakeClock{}
		clocks[i].ms.Store(base)
		stores[i] = backendtest.New(t, openWith(clocks[i].now)).Open()
	}
	m := newModel()
	roots := []anchor.ID{anchor.NewID(), anchor.NewID()}
	var ids, nodes, restorable []anchor.ID
	pick := func(from []anchor.ID) anchor.ID { return from[rng.IntN(len(from))] }
	for step := range steps {
		base += int64(rng.IntN(3)) // 0: clocks tie
		for i, c := range clocks {
			c.ms.Store(base + int64(i*rng.IntN(3)))
		}
		i := rng.IntN(3)
		s := stores[i]
		w := tiered.New(s, anchor.SystemRoot, nil)
		var touched []anchor.ID
		var err error
		switch op := rng.IntN(11); {
		case op == 0 || len(nodes) < 2:
			kind := []anchor.Kind{anchor.KindNode, anchor.KindNode, anchor.KindObject}[rng.IntN(3)]
			var id anchor.ID
			id, err = w.Create(kind, "T", map[string]any{"v": rng.IntN(4)})
			if kind == anchor.KindNode {
				nodes = append(nodes, id)
			}
			ids = append(ids, id)
			restorable = append(restorable, id)
			touched = append(touched, id)
		case op == 1 || op == 2:
			var id anchor.ID
			id, err = w.Connect(ctx, pick(nodes), pick(nodes), "E", map[string]any{"w": rng.IntN(4)})
			if err == nil {
				ids = append(ids, id)
				touched = append(touched, id)
			}
		case op == 3 || op == 4:
			id := pick(ids)
			err = w.Set(ctx, id, fmt.Sprint("f", rng.IntN(3)), rng.IntN(4))
			touched = append(touched, id)
		case op == 5:
			id := pick(ids)
			err = w.SetAccess(ctx, id, anchor.Access{All: anchor.Level(rng.IntN(4)),
				Roots: map[anchor.ID]anchor.Level{pick(roots): anchor.Level(rng.IntN(4))}})
			touched = append(touched, id)
		case op == 6:
			id := pick(ids)
			err = w.Delete(ctx, id)
			touched = append(touched, id)
		case op == 7:
			id := pick(restorable)
			err = w.Restore(ctx, id)
			touched = append(touched, id)
		default:
			res, err := replica.Sync(ctx, stores[i], stores[(i+1)%3], &replica.ImportOptions{ChunkRecords: 1 + rng.IntN(8)})
			require.NoError(t, err, "step %d", step)
			require.False(t, res.Resynced, "step %d: no restore, no resync", step)
			continue
		}
		if err == nil {
			err = w.Commit(ctx)
		}
		if errors.Is(err, anchor.ErrNotFound) || errors.Is(err, anchor.ErrDeleted) {
			continue // not (yet, or any more) on this store
		}
		require.NoError(t, err, "step %d", step)
		for _, id := range touched {
			m.observe(t, s, id)
		}
	}
	settleRing(t, stores)
	requireSameDumps(t, stores...)
	for _, s := range stores {
		m.check(t, s)
		backendtest.RequireClean(t, s)
	}
}

// settleRing syncs around the ring until a full turn moves nothing.
func settleRing(t *testing.T, stores []backend.Store) {
	t.Helper()
	for range 3 * len(stores) {
		moved := false
		for i := range stores {
			dst := stores[(i+1)%len(stores)]
			before := backendtest.Meta(t, dst).Seq
			_, err := replica.Sync(ctx, stores[i], dst, nil)
			require.NoError(t, err)
			moved = moved || backendtest.Meta(t, dst).Seq != before
		}
		if !moved {
			return
		}
	}
	t.Fatal("ring syncs did not settle")
}
