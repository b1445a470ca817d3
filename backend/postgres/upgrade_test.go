package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/delta"
)

// adjacency returns every adjacency row of s's store, as the engine's
// View lists them from the edge index.
func adjacency(t *testing.T, s backend.Store) []anchor.Adj {
	t.Helper()
	var rows []anchor.Adj
	require.NoError(t, s.View(context.Background(), func(v backend.View) error {
		return v.Adjacency(func(r anchor.Adj) error { rows = append(rows, r); return nil })
	}))
	return rows
}

// TestUpgradeDropsAdjacencyTable: a layout-3 store (its adj table written
// back by hand, with its rows, as layout 3 kept them) reads as it is
// read-only; a read-write open, two at once, upgrades it to layout 4: the
// adj table is gone, and the engine's View still lists every edge (from
// the edge index), a node's included, and a cascade delete takes them.
func TestUpgradeDropsAdjacencyTable(t *testing.T) {
	server := pgtest.Shared(t)
	ctx := context.Background()
	schema := server.NewSchema(t)
	dsn := server.DSN("postgres")
	s, err := postgres.Open(dsn, &postgres.Options{Schema: schema})
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	hub, leaf := anchor.NewID(), anchor.NewID()
	b := &delta.Batch{Root: root, Changes: []delta.Change{
		{ID: hub, Create: &anchor.Anchor{ID: hub, Kind: anchor.KindNode, Owner: root, Type: "Hub"}},
		{ID: leaf, Create: &anchor.Anchor{ID: leaf, Kind: anchor.KindNode, Owner: root, Type: "Leaf"}},
	}}
	for _, ends := range [][2]anchor.ID{{root, hub}, {hub, leaf}, {leaf, hub}, {hub, hub}} {
		id := anchor.NewID()
		b.Changes = append(b.Changes, delta.Change{ID: id, Create: &anchor.Anchor{ID: id, Kind: anchor.KindEdge, Owner: root, Type: "Links", Source: ends[0], Target: ends[1]}})
	}
	require.NoError(t, backendtest.Apply(ctx, s, b))
	want := adjacency(t, s)
	require.Len(t, want, 7) // the loop is one row, as the adj table's (node, edge) key kept it
	hubEdges := backendtest.EdgeCount(t, s, hub)
	require.Equal(t, 4, hubEdges) // root->hub, hub->leaf, leaf->hub and the loop
	require.NoError(t, s.Close())

	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	q := func(table string) string { return pgx.Identifier{schema, table}.Sanitize() }
	exists := func() bool {
		var ok bool
		require.NoError(t, conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'adj')`, schema).Scan(&ok))
		return ok
	}
	require.False(t, exists(), "a new store has no adjacency table")
	toLayout3 := func() {
		t.Helper()
		for _, stmt := range []string{
			`CREATE TABLE ` + q("adj") + ` (node bytea NOT NULL, edge bytea NOT NULL, peer bytea NOT NULL,
				dir smallint NOT NULL, type text NOT NULL, PRIMARY KEY (node, edge))`,
			`UPDATE ` + q("meta") + ` SET schema_version = 3`,
		} {
			_, err := conn.Exec(ctx, stmt)
			require.NoError(t, err)
		}
		for _, r := range want {
			_, err := conn.Exec(ctx, `INSERT INTO `+q("adj")+` (node, edge, peer, dir, type) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
				r.Node[:], r.Edge[:], r.Peer[:], int16(r.Dir), r.Type)
			require.NoError(t, err)
		}
	}
	toLayout3()

	ro, err := postgres.Open(dsn, &postgres.Options{Schema: schema, ReadOnly: true})
	require.NoError(t, err)
	require.Equal(t, 3, backendtest.Meta(t, ro).Schema, "a read-only open changes nothing")
	require.Equal(t, want, adjacency(t, ro))
	backendtest.RequireClean(t, ro)
	require.NoError(t, ro.Close())
	require.True(t, exists())

	// Two processes open it read-write at once: both succeed, one upgrades.
	var wg sync.WaitGroup
	var stores [2]*postgres.Store
	var errs [2]error
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(dsn, &postgres.Options{Schema: schema}) })
	}
	wg.Wait()
	for i := range stores {
		require.NoError(t, errs[i])
		defer stores[i].Close()
	}
	s = stores[0]
	require.False(t, exists(), "the upgrade dropped the adjacency table")
	var version int
	require.NoError(t, conn.QueryRow(ctx, `SELECT schema_version FROM `+q("meta")).Scan(&version))
	require.Equal(t, postgres.SchemaVersion, version)
	require.Equal(t, 4, version)
	for _, st := range stores {
		require.Equal(t, postgres.SchemaVersion, backendtest.Meta(t, st).Schema)
		require.Equal(t, want, adjacency(t, st), "every edge is listed after the upgrade")
	}
	require.Equal(t, hubEdges, backendtest.EdgeCount(t, s, hub))
	backendtest.RequireClean(t, s)

	require.NoError(t, backendtest.Apply(ctx, stores[1], &delta.Batch{Root: root, Changes: []delta.Change{{ID: hub, Delete: true}}}))
	require.Zero(t, backendtest.EdgeCount(t, s, hub))
	require.Zero(t, backendtest.EdgeCount(t, s, leaf))
	require.Zero(t, backendtest.EdgeCount(t, s, root))
	backendtest.RequireClean(t, s)
}
