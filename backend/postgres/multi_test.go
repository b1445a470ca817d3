package postgres_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

// TestManyStoresOneSchema: several Stores on one schema stand for several
// machines (each has its own pool, clock and group committer). Walkers on
// all of them add edges to one root concurrently: every edge lands, and
// stamps and sequence numbers stay unique and ordered store-wide.
func TestManyStoresOneSchema(t *testing.T) {
	server := pgtest.Shared(t)
	const machines, walkers, per = 3, 8, 25
	schema := server.NewSchema(t)
	var stores []backend.Store
	for range machines {
		s, err := postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: schema})
		require.NoError(t, err)
		defer s.Close()
		stores = append(stores, s)
	}
	root := backendtest.NewRootNode(t, stores[0], anchor.Access{All: anchor.Connect})
	ctx := context.Background()
	require.NoError(t, backendtest.AddEdges(ctx, stores, root, walkers, per))
	require.Equal(t, machines*walkers*per, backendtest.EdgeCount(t, stores[1], root))
	backendtest.RequireClean(t, stores[2])

	// Stamps: every node created gets its own batch stamp; no two equal.
	seen := map[anchor.HLC]bool{}
	require.NoError(t, stores[0].View(ctx, func(v backend.View) error {
		return v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
			if err != nil {
				return err
			}
			if a.Kind == anchor.KindNode && a.Type == "Item" {
				require.False(t, seen[a.Created], "stamp %s issued twice across stores", a.Created)
				seen[a.Created] = true
			}
			return nil
		})
	}))
	require.Len(t, seen, machines*walkers*per)
}
