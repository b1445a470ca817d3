package postgres_test

import (
	"bytes"
	"context"
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

// hookDriver runs its hook (once) right after a write transaction read the
// whole adjacency of node: between a cascade delete's read of the node's
// edges and the rest of its transaction.
type hookDriver struct {
	backend.Driver
	node anchor.ID
	hook atomic.Pointer[func()]
}

func (d *hookDriver) Begin(ctx context.Context) (backend.Tx, error) {
	tx, err := d.Driver.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &hookTx{Tx: tx, d: d}, nil
}

type hookTx struct {
	backend.Tx
	d *hookDriver
}

func (t *hookTx) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	err := t.Tx.Index(prefix, after, fn)
	if bytes.Equal(prefix, delta.EdgePrefix(t.d.node, 0, "")[:1+len(t.d.node)]) {
		if h := t.d.hook.Swap(nil); h != nil {
			(*h)()
		}
	}
	return err
}

// TestCascadeExcludesConnect: a node's delete reads its edges from the
// edge index, the store's only adjacency. A connect to the node on
// another connection, run after that read and before the delete commits,
// must not land (it would leave a live edge on a deleted node): the read
// holds the node's exclusive lock, so the connect, which reads the node
// under its shared lock, waits (and gives up at its deadline here), and
// once the delete committed it finds a tombstone.
func TestCascadeExcludesConnect(t *testing.T) {
	ctx := context.Background()
	server := pgtest.Shared(t)
	schema := server.NewSchema(t)
	dsn := server.DSN("postgres")
	d, err := postgres.OpenDriver(dsn, &postgres.Options{Schema: schema})
	require.NoError(t, err)
	hd := &hookDriver{Driver: d}
	a, err := backend.New(hd, "hooked", nil)
	require.NoError(t, err)
	defer a.Close()
	b, err := postgres.Open(dsn, &postgres.Options{Schema: schema, LockTimeout: 50 * time.Millisecond})
	require.NoError(t, err)
	defer b.Close()

	root := backendtest.NewRootNode(t, a, anchor.Access{})
	n, m, old := anchor.NewID(), anchor.NewID(), anchor.NewID()
	node := func(id anchor.ID) delta.Change {
		return delta.Change{ID: id, Create: &anchor.Anchor{ID: id, Kind: anchor.KindNode, Owner: root, Type: "Item"}}
	}
	connect := func(id anchor.ID) *delta.Batch {
		e := &anchor.Anchor{ID: id, Kind: anchor.KindEdge, Owner: root, Type: "Links", Source: n, Target: m}
		return &delta.Batch{Root: root, Changes: []delta.Change{{ID: id, Create: e}}}
	}
	require.NoError(t, backendtest.Apply(ctx, a, &delta.Batch{Root: root, Changes: []delta.Change{node(n), node(m)}}))
	require.NoError(t, backendtest.Apply(ctx, a, connect(old)))

	hd.node = n
	late := anchor.NewID()
	var lateErr error
	ran := false
	hook := func() {
		ran = true
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		lateErr = backendtest.Apply(c, b, connect(late))
	}
	hd.hook.Store(&hook)
	require.NoError(t, backendtest.Apply(ctx, a, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n, Delete: true}}}))
	require.True(t, ran, "the delete read the node's adjacency through Index")
	require.Error(t, lateErr, "a connect to a node whose delete has read its edges must not commit before the delete")

	err = backendtest.Apply(ctx, b, connect(late))
	require.ErrorIs(t, err, anchor.ErrDeleted, "after the delete, the connect finds a tombstone")
	require.False(t, backendtest.Stored(t, b, n).Live())
	require.False(t, backendtest.Stored(t, b, old).Live(), "the cascade took the edge it read")
	require.Zero(t, backendtest.EdgeCount(t, b, n))
	require.Zero(t, backendtest.EdgeCount(t, b, m))
	backendtest.RequireClean(t, b)
}
