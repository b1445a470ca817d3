package bolt_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
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

// TestWritePanicStopsWrites: a page damaged under an open store (bbolt
// maps the file, so a write to it by anyone shows at once) makes bbolt
// panic inside a write transaction. The write fails with ErrCorrupt
// instead of the panic reaching the caller (it crashed the process
// before), nothing of it lands, later writes are refused with a clear
// error naming the cause, and the store still closes.
func TestWritePanicStopsWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.db")
	s, err := bolt.Open(path, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	for range 20 { // enough that the anchors bucket leaves its inline page
		_, err := m.Create(anchor.KindNode, "N", map[string]any{"pad": strings.Repeat("x", 200)})
		require.NoError(t, err)
	}
	require.NoError(t, m.Commit(context.Background()))
	require.NoError(t, s.Close())
	var page int64
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	require.NoError(t, err)
	require.NoError(t, db.View(func(tx *bbolt.Tx) error { page = int64(tx.Bucket([]byte("anchors")).Root()); return nil }))
	require.NoError(t, db.Close())
	require.NotZero(t, page, "the anchors bucket must have a page of its own")

	s, err = bolt.Open(path, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(make([]byte, 4096), page*4096)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	ctx := context.Background()
	n := anchor.NewID()
	create := &delta.Batch{Root: root, Changes: []delta.Change{{ID: n, Create: &anchor.Anchor{ID: n, Kind: anchor.KindNode, Owner: root, Type: "N"}}}}
	err = backendtest.Apply(ctx, s, create)
	require.ErrorIs(t, err, anchor.ErrCorrupt)
	err = backendtest.Apply(ctx, s, create)
	require.ErrorIs(t, err, anchor.ErrCorrupt)
	require.Contains(t, err.Error(), "reopen")
	require.NoError(t, s.View(ctx, func(v backend.View) error { _ = v.Meta(); return nil }))
	require.NoError(t, s.Close())
}
