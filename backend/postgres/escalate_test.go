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
	"github.com/anchorage-db/anchorage/delta"
)

// TestEscalationUnderContention: with a bound of 3 anchor locks, nearly
// every group commit escalates, at Prefetch or later, while walkers on
// three stores add edges to one root and delete nodes with edges: every
// write lands once, and the store verifies clean.
func TestEscalationUnderContention(t *testing.T) {
	server := pgtest.Shared(t)
	schema := server.NewSchema(t)
	const machines, walkers, per = 3, 6, 15
	var stores []backend.Store
	for range machines {
		s, err := postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: schema, EscalateLocks: 3})
		require.NoError(t, err)
		defer s.Close()
		stores = append(stores, s)
	}
	root := backendtest.NewRootNode(t, stores[0], anchor.Access{All: anchor.Connect})
	ctx := context.Background()
	require.NoError(t, backendtest.AddEdges(ctx, stores, root, walkers, per))
	require.Equal(t, machines*walkers*per, backendtest.EdgeCount(t, stores[1], root))

	// Small hubs (more edges than the bound) deleted beside the walkers.
	hub := backendtest.NewRootNode(t, stores[0], anchor.Access{})
	leaf := leafNodes(t, stores[0], hub, 5)
	var hubs []anchor.ID
	for range 4 {
		h := anchor.NewID()
		hubs = append(hubs, h)
		b := &delta.Batch{Root: hub, Changes: []delta.Change{{ID: h, Create: &anchor.Anchor{ID: h, Kind: anchor.KindNode, Owner: hub, Type: "Hub"}}}}
		b.Changes = append(b.Changes, edgesBatch(hub, h, leaf, 10).Changes...)
		require.NoError(t, backendtest.Apply(ctx, stores[0], b))
	}
	errs := make(chan error, len(hubs)+1)
	go func() { errs <- backendtest.AddEdges(ctx, stores, root, 2, 10) }()
	for i, h := range hubs {
		go func() {
			_, err := stores[i%machines].Apply(ctx, &delta.Batch{Root: hub, Changes: []delta.Change{{ID: h, Delete: true}}})
			errs <- err
		}()
	}
	for range len(hubs) + 1 {
		require.NoError(t, <-errs)
	}
	require.Equal(t, machines*(walkers*per+2*10), backendtest.EdgeCount(t, stores[2], root))
	for _, h := range hubs {
		require.Zero(t, backendtest.EdgeCount(t, stores[1], h))
	}
	for _, l := range leaf {
		require.Zero(t, backendtest.EdgeCount(t, stores[1], l))
	}
	backendtest.RequireClean(t, stores[2])
}

func TestEscalateLocksNegative(t *testing.T) {
	server := pgtest.Shared(t)
	_, err := postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: server.NewSchema(t), EscalateLocks: -1})
	require.ErrorIs(t, err, backend.ErrOptions)
}
