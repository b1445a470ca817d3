package tiered_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/internal/naive"
	"github.com/anchorage-db/anchorage/tiered"
)

func openBolt(t testing.TB, dir string) backend.Store {
	s, err := bolt.Open(filepath.Join(dir, "anchorage.db"), &bolt.Options{NoSync: true})
	require.NoError(t, err)
	return s
}

const (
	lostWalkers = 64
	lostEdges   = 100
)

// TestConcurrentEdgesNotLost pins the bug this engine exists for: a graph
// runtime cached nodes per request and stored whole node documents (edge
// list included), so concurrent requests that each loaded the user's root
// and added an edge erased each other's edges. 64 walkers, each with its own
// Memory, load the same root before any of them writes, then add 100 edges
// each with one Commit per edge. Every one of the 6,400 edges must be stored.
func TestConcurrentEdgesNotLost(t *testing.T) {
	s := backendtest.New(t, openBolt).Open()
	root := backendtest.NewRootNode(t, s, anchor.Access{All: anchor.Connect})
	ctx := context.Background()

	var loaded, wg sync.WaitGroup
	loaded.Add(lostWalkers)
	start := make(chan struct{})
	errs := make(chan error, lostWalkers)
	for w := range lostWalkers {
		wg.Go(func() {
			m := tiered.New(s, anchor.NewID(), nil)
			_, err := m.Get(ctx, root) // every walker holds a copy from before anyone wrote
			loaded.Done()
			<-start
			for i := 0; err == nil && i < lostEdges; i++ {
				var n anchor.ID
				n, err = m.Create(anchor.KindNode, "Item", map[string]any{"walker": w, "i": i})
				if err == nil {
					_, err = m.Connect(ctx, root, n, "Has", nil)
				}
				if err == nil {
					err = m.Commit(ctx)
				}
			}
			errs <- err
		})
	}
	loaded.Wait()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	stored := backendtest.EdgeCount(t, s, root)
	t.Logf("anchorage: walkers=%d expected=%d stored=%d lost=%d", lostWalkers, lostWalkers*lostEdges, stored, lostWalkers*lostEdges-stored)
	require.Equal(t, lostWalkers*lostEdges, stored)
	backendtest.RequireClean(t, s)
}

// TestNaiveWriterLosesEdges is the control for TestConcurrentEdgesNotLost:
// the same scenario through a whole-document writer on bbolt loses edges,
// which proves the scenario can detect the bug.
func TestNaiveWriterLosesEdges(t *testing.T) {
	ns, err := naive.Open(filepath.Join(t.TempDir(), "naive.db"), true)
	require.NoError(t, err)
	defer ns.Close()
	root := anchor.NewID()

	var loaded, wg sync.WaitGroup
	loaded.Add(lostWalkers)
	start := make(chan struct{})
	errs := make(chan error, lostWalkers)
	for range lostWalkers {
		wg.Go(func() {
			w := ns.NewWalker()
			_, err := w.Load(root)
			loaded.Done()
			<-start
			for i := 0; err == nil && i < lostEdges; i++ {
				if _, err = w.Connect(root, anchor.NewID()); err == nil {
					err = w.Commit()
				}
			}
			errs <- err
		})
	}
	loaded.Wait()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	stored, err := ns.Edges(root)
	require.NoError(t, err)
	t.Logf("naive: walkers=%d expected=%d stored=%d lost=%d", lostWalkers, lostWalkers*lostEdges, stored, lostWalkers*lostEdges-stored)
	require.Less(t, stored, lostWalkers*lostEdges, "the naive writer should have lost edges")
}
