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
)

// schema1 rewrites the store at path as schema 1 wrote it: adjacency rows
// peer|direction|type, without a checksum.
func schema1(t *testing.T, path string) {
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("adj"))
		var rows [][2][]byte
		b.ForEach(func(k, v []byte) error {
			rows = append(rows, [2][]byte{append([]byte(nil), k...), append(append([]byte(nil), v[:17]...), v[21:]...)})
			return nil
		})
		for _, r := range rows {
			if err := b.Put(r[0], r[1]); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, 1))
	}))
}

// TestUpgradeSchema1: a schema-1 store reads the same read-only, is
// upgraded by a read-write open (Verify clean, same edges), and one whose
// adjacency is damaged is refused with ErrCorrupt, not sealed under fresh
// checksums.
func TestUpgradeSchema1(t *testing.T) {
	ctx := context.Background()
	build := func() (string, anchor.ID, int) {
		path := filepath.Join(t.TempDir(), "v1.db")
		s, err := bolt.Open(path, &bolt.Options{NoSync: true})
		require.NoError(t, err)
		root := backendtest.NewRootNode(t, s, anchor.Access{All: anchor.Connect})
		require.NoError(t, backendtest.AddEdges(ctx, []backend.Store{s}, root, 2, 5))
		n := backendtest.EdgeCount(t, s, root)
		require.NoError(t, s.Close())
		schema1(t, path)
		return path, root, n
	}
	path, root, n := build()
	ro, err := bolt.Open(path, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	require.Equal(t, n, backendtest.EdgeCount(t, ro, root))
	require.Equal(t, 1, backendtest.Meta(t, ro).Schema)
	require.NoError(t, ro.Close())

	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	require.Equal(t, bolt.SchemaVersion, backendtest.Meta(t, s).Schema)
	require.Equal(t, n, backendtest.EdgeCount(t, s, root))
	backendtest.RequireClean(t, s)
	require.NoError(t, s.Close())

	path, root, _ = build()
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error { // move one row to another node
		c := tx.Bucket([]byte("adj")).Cursor()
		k, v := c.Seek(root[:])
		moved := append([]byte(nil), k...)
		moved[15] ^= 0x01
		v = append([]byte(nil), v...)
		if err := c.Delete(); err != nil {
			return err
		}
		return tx.Bucket([]byte("adj")).Put(moved, v)
	}))
	require.NoError(t, db.Close())
	for _, ro := range []bool{true, false} {
		_, err := bolt.Open(path, &bolt.Options{ReadOnly: ro})
		require.ErrorIs(t, err, anchor.ErrCorrupt, "read-only %v", ro)
	}
}
