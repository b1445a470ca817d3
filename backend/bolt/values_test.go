package bolt_test

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
)

// TestInlineBigValueFromSchema3: a schema-3 store (no values bucket) whose
// record holds a large value inline, as builds before out-of-line values
// wrote it, reads the same read-only; a read-write open upgrades it to
// schema 4, the value reads the same, and the next write of the anchor
// moves it out of line (record format 2, one values row), exactly, Verify
// clean.
func TestInlineBigValueFromSchema3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v3.db")
	s, err := bolt.Open(path, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	root, n := backendtest.NewBlobNode(t, s)
	require.NoError(t, s.Close())

	big, err := anchor.EncodeValue(bytes.Repeat([]byte{3}, 2*anchor.OutOfLine))
	require.NoError(t, err)
	rec := backendtest.InlineRecord(t, n, big)
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
	backendtest.RequireUpgradedKeepsBlob(t, s, bolt.SchemaVersion, root, n, big)
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
