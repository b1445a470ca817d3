package bolt_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestVerifyEdgeOfEarlierLife: a live edge whose endpoint is in a later
// life than the one the edge was made in (a restore that did not take
// the edges of the life it replaced) is reported.
func TestVerifyEdgeOfEarlierLife(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "life.db")
	s, err := bolt.Open(path, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "N", nil)
	require.NoError(t, err)
	e, err := m.Connect(ctx, root, n, "E", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	backendtest.RequireClean(t, s)
	node := backendtest.Stored(t, s, n)
	require.NoError(t, s.Close())

	node.Restored = node.Updated // n moved on to a later life; e was left live
	rec, err := anchor.Marshal(node)
	require.NoError(t, err)
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("anchors")).Put(n[:], rec) }))
	require.NoError(t, db.Close())

	s, err = bolt.Open(path, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	rep, err := backend.Verify(ctx, s)
	require.NoError(t, err)
	require.Len(t, rep.Problems, 1, "%v", rep.Problems)
	require.Equal(t, backend.ProblemEdgeOldLife, rep.Problems[0].Kind)
	require.Equal(t, e, rep.Problems[0].ID)
}
