package postgres

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/delta"
)

// counter counts round trips (a statement alone, or a pipelined batch),
// statements and COMMITs on every connection of the stores it traces.
type counter struct{ trips, stmts, commits atomic.Int64 }

func (c *counter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.trips.Add(1)
	c.stmts.Add(1)
	if strings.EqualFold(d.SQL, "COMMIT") {
		c.commits.Add(1)
	}
	return ctx
}
func (c *counter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *counter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.trips.Add(1)
	return ctx
}
func (c *counter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.stmts.Add(1)
}
func (c *counter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (c *counter) reset() { c.trips.Store(0); c.stmts.Store(0); c.commits.Store(0) }

// traced opens a store in a fresh schema with every statement counted.
func traced(t *testing.T, o Options) (*Store, *counter) {
	c := &counter{}
	testTracer = c
	defer func() { testTracer = nil }()
	server := pgtest.Shared(t)
	o.Schema = server.NewSchema(t)
	s, err := Open(server.DSN("postgres"), &o)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s, c
}

// addEdge is the bench's commit: a new node and an edge to it from root.
func addEdge(root anchor.ID) *delta.Batch {
	n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Post"}
	e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "HasPost", Source: root, Target: n.ID}
	return &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}, {ID: e.ID, Create: e}}}
}

// TestRoundTrips pins the cost of a write transaction in round trips and
// statements: one write alone, and groups of concurrent writes.
func TestRoundTrips(t *testing.T) {
	ctx := context.Background()
	t.Run("alone", func(t *testing.T) {
		s, c := traced(t, Options{NoGroupCommit: true})
		root := backendtest.NewRootNode(t, s, anchor.Access{})
		c.reset()
		const n = 20
		for range n {
			_, err := s.Apply(ctx, addEdge(root))
			require.NoError(t, err)
		}
		require.EqualValues(t, n, c.commits.Load())
		t.Logf("one write per transaction: %.1f round trips, %.1f statements per commit",
			float64(c.trips.Load())/n, float64(c.stmts.Load())/n)
		// begin + clock; node, edge, root reads; writes + change log; COMMIT
		require.LessOrEqual(t, c.trips.Load(), int64(6*n))
	})
	t.Run("group", func(t *testing.T) {
		s, c := traced(t, Options{})
		root := backendtest.NewRootNode(t, s, anchor.Access{})
		c.reset()
		const walkers, per = 64, 4
		var wg sync.WaitGroup
		for range walkers {
			wg.Go(func() {
				for range per {
					_, err := s.Apply(ctx, addEdge(root))
					require.NoError(t, err)
				}
			})
		}
		wg.Wait()
		txs := c.commits.Load()
		t.Logf("%d writes in %d transactions: %.1f round trips and %.1f statements per transaction, %.1f statements per write",
			walkers*per, txs, float64(c.trips.Load())/float64(txs), float64(c.stmts.Load())/float64(txs), float64(c.stmts.Load())/float64(walkers*per))
		// At most 5 round trips per group transaction, whatever its size:
		// begin, the group's reads (prefetched together), the index
		// declaration (read once per group), the writes, COMMIT.
		require.LessOrEqual(t, c.trips.Load(), 5*txs)
	})
}

// TestPrefetch: a transaction that prefetches the anchors it will read
// reads them all in one round trip, and then answers from memory.
func TestPrefetch(t *testing.T) {
	s, c := traced(t, Options{})
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	ids := []anchor.ID{root}
	for range 50 {
		b := addEdge(root)
		_, err := s.Apply(context.Background(), b)
		require.NoError(t, err)
		ids = append(ids, b.Changes[0].ID, b.Changes[1].ID, anchor.NewID()) // the last one absent
	}
	tx, err := s.Driver().Begin(context.Background())
	require.NoError(t, err)
	defer tx.Rollback()
	c.reset()
	require.NoError(t, tx.(*wtx).Prefetch(ids))
	for i, id := range ids {
		a, err := tx.Anchor(id)
		if i%3 == 0 && i > 0 {
			require.ErrorIs(t, err, anchor.ErrNotFound)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, id, a.ID)
	}
	require.EqualValues(t, 1, c.trips.Load(), "one round trip for %d anchors", len(ids))
	var _ backend.Tx = tx
}

// TestEscalates: a transaction escalates where it first needs more anchor
// locks than EscalateLocks allows: at Prefetch (a batch of many reads), at
// the read of a node's whole adjacency (a node with many edge entries,
// counted before its lock), and at a later read; and then takes no more
// anchor locks.
func TestEscalates(t *testing.T) {
	ctx := context.Background()
	s, c := traced(t, Options{EscalateLocks: 8})
	d := s.Driver().(*driver)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	require.Zero(t, d.escalations.Load())
	hub := anchor.NewID()
	b := &delta.Batch{Root: root, Changes: []delta.Change{{ID: hub, Create: &anchor.Anchor{ID: hub, Kind: anchor.KindNode, Owner: root, Type: "Hub"}}}}
	for range 20 {
		e := addEdge(hub).Changes
		e[0].Create.Owner, e[1].Create.Owner = root, root
		b.Changes = append(b.Changes, e...)
	}
	_, err := s.Apply(ctx, b)
	require.NoError(t, err)
	require.EqualValues(t, 1, d.escalations.Load(), "a batch of 61 reads escalates at Prefetch")

	c.reset()
	_, err = s.Apply(ctx, &delta.Batch{Root: root, Changes: []delta.Change{{ID: hub, Delete: true}}})
	require.NoError(t, err)
	require.EqualValues(t, 2, d.escalations.Load(), "a node of 20 edges escalates at the read of its edge entries")
	require.LessOrEqual(t, c.trips.Load(), int64(7), "begin, prefetch, index meta, edge entries, edges, writes, COMMIT")
	require.Zero(t, backendtest.EdgeCount(t, s, hub))

	// Reads one at a time (no Prefetch) escalate at the ninth.
	tx, err := s.Driver().Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback()
	for range 9 {
		_, err := tx.Anchor(anchor.NewID())
		require.ErrorIs(t, err, anchor.ErrNotFound)
	}
	require.EqualValues(t, 3, d.escalations.Load())
	require.True(t, tx.(*wtx).escalated)
	require.Equal(t, 8, tx.(*wtx).locks)
	backendtest.RequireClean(t, s)
}
