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
// all of them add edges to one root concurrently: every edge lands, the
// change log numbers every write once (Verify), and stamps follow the
// order the package documents: every stamp exceeds the stamps of the
// anchors its write read. (Store-wide unique stamps were what the old
// store-wide lock bought; issue 12 removed that lock, and writes on
// different machines that share no anchor are ordered by their clocks
// only, so two of them may carry the same stamp.)
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

	// Stamps: each item was created by a write that read the root, and
	// its edge in the same write: both are stamped after the root.
	rootStamp := backendtest.Stored(t, stores[0], root).Created
	items, edges := 0, 0
	require.NoError(t, stores[0].View(ctx, func(v backend.View) error {
		return v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
			if err != nil {
				return err
			}
			switch {
			case a.Kind == anchor.KindNode && a.Type == "Item":
				require.Greater(t, a.Created, rootStamp, "item %s", id)
				items++
			case a.Kind == anchor.KindEdge:
				item, err := v.Anchor(a.Target)
				require.NoError(t, err)
				require.Equal(t, item.Created, a.Created, "an edge and its item are one write")
				require.Greater(t, a.Created, rootStamp)
				edges++
			}
			return nil
		})
	}))
	require.Equal(t, machines*walkers*per, items)
	require.Equal(t, machines*walkers*per, edges)
}

// TestHeldEdgeRacesItsNodeAcrossStores: on two stores of one schema (two
// machines), a merge bringing a node and one bringing an edge held for it
// run at once, round after round; the edge is never left held.
func TestHeldEdgeRacesItsNodeAcrossStores(t *testing.T) {
	server := pgtest.Shared(t)
	schema := server.NewSchema(t)
	var stores [2]backend.Store
	for i := range stores {
		s, err := postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: schema})
		require.NoError(t, err)
		defer s.Close()
		stores[i] = s
	}
	backendtest.RaceHeldEdge(t, stores[0], stores[1])
}
