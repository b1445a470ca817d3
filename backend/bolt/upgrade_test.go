package bolt_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// schema2 rewrites the store at path as schema 2 kept it: an adjacency
// bucket (node|edge rows, stale here: the upgrade drops it unread), and no
// secondary-index or out-of-line-values bucket.
func schema2(t *testing.T, path string) {
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		adj, err := tx.CreateBucket([]byte("adj"))
		if err != nil {
			return err
		}
		if err := adj.Put(make([]byte, 32), []byte("a row of the old layout")); err != nil {
			return err
		}
		for _, b := range []string{"index", "values"} {
			if err := tx.DeleteBucket([]byte(b)); err != nil {
				return err
			}
		}
		m := tx.Bucket([]byte("meta"))
		if err := m.Delete([]byte("x/" + delta.IndexedKey)); err != nil {
			return err
		}
		return m.Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, 2))
	}))
}

// TestUpgradeDropsAdjacency: a store of a schema before the edge index
// refuses edge listings read-only (ErrVersion, never an empty list), and a
// read-write open upgrades it: the adjacency bucket is gone, every edge is
// listed from the index the open builds, Verify is clean. One holding a
// damaged record is refused with ErrCorrupt instead: its edges would
// otherwise drop out of their lists unseen.
func TestUpgradeDropsAdjacency(t *testing.T) {
	ctx := context.Background()
	build := func() (string, anchor.ID, int) {
		path := filepath.Join(t.TempDir(), "v2.db")
		s, err := bolt.Open(path, &bolt.Options{NoSync: true})
		require.NoError(t, err)
		root := backendtest.NewRootNode(t, s, anchor.Access{All: anchor.Connect})
		require.NoError(t, backendtest.AddEdges(ctx, []backend.Store{s}, root, 2, 5))
		n := backendtest.EdgeCount(t, s, root)
		require.Equal(t, 10, n)
		require.NoError(t, s.Close())
		schema2(t, path)
		return path, root, n
	}
	path, root, n := build()
	ro, err := bolt.Open(path, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	require.Equal(t, 2, backendtest.Meta(t, ro).Schema)
	err = ro.View(ctx, func(v backend.View) error { return v.Adjacent(root, func(anchor.Adj) error { return nil }) })
	require.ErrorIs(t, err, anchor.ErrVersion)
	require.ErrorIs(t, err, anchor.ErrNoIndex)
	_, err = tiered.New(ro, anchor.SystemRoot, nil).Edges(ctx, root) // a walker's listing, through the index
	require.ErrorIs(t, err, anchor.ErrVersion)
	require.NoError(t, ro.Close())

	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	require.Equal(t, bolt.SchemaVersion, backendtest.Meta(t, s).Schema)
	require.Equal(t, n, backendtest.EdgeCount(t, s, root))
	backendtest.RequireClean(t, s)
	require.NoError(t, s.Close())
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, db.View(func(tx *bbolt.Tx) error {
		require.Nil(t, tx.Bucket([]byte("adj")), "the upgrade drops the adjacency bucket")
		return nil
	}))
	require.NoError(t, db.Close())

	path, root, _ = build()
	db, err = bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error { // damage the last record (an edge)
		c := tx.Bucket([]byte("anchors")).Cursor()
		k, v := c.Last()
		v = append([]byte(nil), v...)
		v[len(v)-1] ^= 0x01
		return tx.Bucket([]byte("anchors")).Put(append([]byte(nil), k...), v)
	}))
	require.NoError(t, db.Close())
	_, err = bolt.Open(path, nil)
	require.ErrorIs(t, err, anchor.ErrCorrupt)
}
