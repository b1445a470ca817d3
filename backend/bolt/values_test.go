package bolt_test

import (
	"bytes"
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
)

// TestInlineBigValueFromSchema3: a schema-3 store (no values bucket) whose
// record holds a large value inline, as builds before out-of-line values
// wrote it, reads the same read-only; a read-write open upgrades it to
// schema 4, the value reads the same, and the next write of the anchor
// moves it out of line (record format 2, one values row), exactly, Verify
// clean.
func TestInlineBigValueFromSchema3(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v3.db")
	s, err := bolt.Open(path, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Blob",
		Fields: map[string]anchor.Field{"blob": {Value: []byte{0}}}}
	require.NoError(t, backendtest.Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}}}))
	n = backendtest.Stored(t, s, n.ID)
	require.NoError(t, s.Close())

	big, err := anchor.EncodeValue(bytes.Repeat([]byte{3}, 2*anchor.OutOfLine))
	require.NoError(t, err)
	stamp := n.Fields["blob"].Stamp
	n.Fields["blob"] = anchor.Field{Value: big, Stamp: stamp}
	rec, err := anchor.Marshal(n) // no references: the inline format-1 record
	require.NoError(t, err)
	require.Equal(t, anchor.FormatVersion, rec[0])
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bbolt.Tx) error {
		if err := tx.DeleteBucket([]byte("values")); err != nil {
			return err
		}
		if err := tx.Bucket([]byte("anchors")).Put(n.ID[:], rec); err != nil {
			return err
		}
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, 3))
	}))
	require.NoError(t, db.Close())

	ro, err := bolt.Open(path, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	require.Equal(t, big, backendtest.Stored(t, ro, n.ID).Fields["blob"].Value)
	backendtest.RequireClean(t, ro)
	require.NoError(t, ro.Close())

	s, err = bolt.Open(path, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		require.Equal(t, bolt.SchemaVersion, v.Meta().Schema)
		return nil
	}))
	require.Equal(t, big, backendtest.Stored(t, s, n.ID).Fields["blob"].Value)
	require.NoError(t, backendtest.Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Set: map[string][]byte{"n": {1}}}}}))
	got := backendtest.Stored(t, s, n.ID).Fields["blob"]
	require.Equal(t, anchor.Field{Value: big, Stamp: stamp}, got)
	backendtest.RequireClean(t, s)
	require.NoError(t, s.Close())

	db, err = bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.View(func(tx *bbolt.Tx) error {
		require.Equal(t, anchor.FormatOutOfLine, tx.Bucket([]byte("anchors")).Get(n.ID[:])[0])
		require.Equal(t, big, tx.Bucket([]byte("values")).Get(append(n.ID[:len(n.ID):len(n.ID)], "blob"...)))
		return nil
	}))
}
