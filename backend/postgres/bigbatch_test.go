package postgres_test

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/delta"
)

// Sizes of the big-batch tests. The hub has 2.5·10^5 edges; the
// default run deletes one of 5·10^4 (already far past the server's lock
// table, which the starting commit ran out of), ANCHORAGE_SOAK=1 the
// issue's. The bulk load is the 10^5 edges either way.
const (
	bulkEdges = 100_000
	leaves    = 1_000 // the peers of the big batches' edges
)

func hubEdges() int {
	if os.Getenv("ANCHORAGE_SOAK") != "" {
		return 250_000
	}
	return 50_000
}

// bigStores opens two Stores on one fresh schema (two machines).
func bigStores(t testing.TB) (a, b *postgres.Store) {
	server := pgtest.Shared(t)
	schema := server.NewSchema(t)
	var ss [2]*postgres.Store
	for i := range ss {
		s, err := postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: schema})
		require.NoError(t, err)
		t.Cleanup(func() { s.Close() })
		ss[i] = s
	}
	return ss[0], ss[1]
}

// leafNodes creates n nodes owned by root, in one batch.
func leafNodes(t testing.TB, s backend.Store, root anchor.ID, n int) []anchor.ID {
	ids := make([]anchor.ID, n)
	b := &delta.Batch{Root: root}
	for i := range ids {
		ids[i] = anchor.NewID()
		b.Changes = append(b.Changes, delta.Change{ID: ids[i], Create: &anchor.Anchor{ID: ids[i], Kind: anchor.KindNode, Owner: root, Type: "Leaf"}})
	}
	require.NoError(t, backendtest.Apply(context.Background(), s, b))
	return ids
}

// buildHub adds n edges from hub to the leaves, chunk edges a batch.
func buildHub(t testing.TB, s backend.Store, hub anchor.ID, leaf []anchor.ID, n, chunk int) {
	t.Helper()
	for done := 0; done < n; done += chunk {
		require.NoError(t, backendtest.Apply(context.Background(), s, edgesBatch(hub, hub, leaf, min(chunk, n-done))), "building the hub: %d edges so far", done)
	}
	require.Equal(t, n, backendtest.EdgeCount(t, s, hub))
}

// edgesBatch is a batch of n new edges from hub to the leaves, in turn.
func edgesBatch(root, hub anchor.ID, to []anchor.ID, n int) *delta.Batch {
	b := &delta.Batch{Root: root, Changes: make([]delta.Change, 0, n)}
	for i := range n {
		e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "Links", Source: hub, Target: to[i%len(to)]}
		b.Changes = append(b.Changes, delta.Change{ID: e.ID, Create: e})
	}
	return b
}

// smallWriter adds one node and its edge from its own root, one write per
// commit, on s until stop is closed; it returns the first error. Each
// write may wait (the engine retries while the store is held) up to five
// minutes: long enough for the biggest batch here on a loaded machine.
func smallWriter(s backend.Store, root anchor.ID, stop <-chan struct{}, commits *atomic.Int64) error {
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Small"}
		e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "Has", Source: root, Target: n.ID}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		_, err := s.Apply(ctx, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}, {ID: e.ID, Create: e}}})
		cancel()
		if err != nil {
			return err
		}
		commits.Add(1)
	}
}

// during runs big while two small writers run beside it, one on each
// store, and requires that every small write succeeded and that both
// wrote after big returned. It returns big's duration and the small
// commits made while big ran.
func during(t testing.TB, a, b backend.Store, big func() error) (time.Duration, int64) {
	t.Helper()
	ra, rb := backendtest.NewRootNode(t, a, anchor.Access{}), backendtest.NewRootNode(t, b, anchor.Access{})
	stop := make(chan struct{})
	var commits atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = smallWriter(a, ra, stop, &commits) })
	wg.Go(func() { errs[1] = smallWriter(b, rb, stop, &commits) })
	time.Sleep(100 * time.Millisecond)
	start, before := time.Now(), commits.Load()
	err := big()
	took, while := time.Since(start), commits.Load()-before
	time.Sleep(200 * time.Millisecond) // both writers go on after it
	close(stop)
	wg.Wait()
	require.NoError(t, err, "the big batch")
	require.NoError(t, errs[0], "a small writer on the big batch's store")
	require.NoError(t, errs[1], "a small writer on another store")
	require.Positive(t, backendtest.EdgeCount(t, a, ra))
	require.Positive(t, backendtest.EdgeCount(t, b, rb))
	return took, while
}

// TestBigBatchHubDelete: deleting a node with 5·10^4 edges (2.5·10^5
// with ANCHORAGE_SOAK; one change,
// cascading to every edge) succeeds with default options under the
// caller's context, while small writers on the same and another store
// go on (they may wait, never fail), and the store verifies clean.
func TestBigBatchHubDelete(t *testing.T) {
	a, b := bigStores(t)
	ctx := context.Background()
	root := backendtest.NewRootNode(t, a, anchor.Access{})
	leaf := leafNodes(t, a, root, leaves)
	n := hubEdges()
	buildHub(t, a, root, leaf, n, 2_000) // batches the starting commit could write
	hub := root
	took, while := during(t, a, b, func() error {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		_, err := a.Apply(ctx, &delta.Batch{Root: root, Changes: []delta.Change{{ID: hub, Delete: true}}})
		return err
	})
	t.Logf("deleted a hub of %d edges in %s; %d small commits meanwhile", n, took.Round(time.Millisecond), while)
	require.Zero(t, backendtest.EdgeCount(t, a, hub))
	require.False(t, backendtest.Stored(t, b, hub).Live())
	for _, l := range leaf[:10] {
		require.Zero(t, backendtest.EdgeCount(t, b, l), "leaf %s keeps an edge of the deleted hub", l)
	}
	backendtest.RequireClean(t, b)
}

// TestBigBatchBulkLoad: one batch of 10^5 new edges succeeds, while small
// writers go on, and the change log numbers every edge once (Verify).
func TestBigBatchBulkLoad(t *testing.T) {
	a, b := bigStores(t)
	root := backendtest.NewRootNode(t, a, anchor.Access{})
	leaf := leafNodes(t, a, root, leaves)
	seq0 := backendtest.Meta(t, a).Seq
	batch := edgesBatch(root, root, leaf, bulkEdges)
	took, while := during(t, a, b, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		_, err := a.Apply(ctx, batch)
		return err
	})
	t.Logf("loaded %d edges in one batch in %s; %d small commits meanwhile", bulkEdges, took.Round(time.Millisecond), while)
	require.Equal(t, bulkEdges, backendtest.EdgeCount(t, b, root))
	require.Equal(t, bulkEdges/leaves, backendtest.EdgeCount(t, b, leaf[0]))
	require.GreaterOrEqual(t, backendtest.Meta(t, b).Seq-seq0, uint64(bulkEdges))
	backendtest.RequireClean(t, b)
}
