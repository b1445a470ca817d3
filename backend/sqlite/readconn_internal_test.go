package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// withReadConn calls fn with the read pool's connection (the pool of a
// store opened with ReadConns 1 has one).
func withReadConn(t *testing.T, s *Store, fn func(c *readConn)) {
	t.Helper()
	conn, err := s.Driver().(*driver).rdb.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.Raw(func(dc any) error {
		c, ok := dc.(*readConn)
		require.True(t, ok, "the read pool hands out a %T", dc)
		fn(c)
		return nil
	}))
}

// TestReadConnHandle guards handleOf, which reads the sqlite3 handle from
// an unexported field of modernc's connection: a modernc upgrade that
// renames, retypes or repurposes the field fails here. (Views would then
// list index entries through database/sql, correctly but about three
// times slower.) It also checks that a View's scans go through the
// connection's scanner, and that the database/sql path a connection
// without a handle takes lists the same entries.
func TestReadConnHandle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "handle.sqlite")
	s, err := Open(path, &Options{ReadConns: 1})
	require.NoError(t, err)
	defer s.Close()
	withReadConn(t, s, func(c *readConn) {
		require.NotZero(t, c.db, "no sqlite3 handle in modernc's connection %T: see handleOf", c.modernConn)
		z, err := libc.CString("main")
		require.NoError(t, err)
		defer libc.Xfree(c.tls, z)
		want, err := filepath.EvalSymlinks(path)
		require.NoError(t, err)
		got, err := filepath.EvalSymlinks(libc.GoString(sqlite3.Xsqlite3_db_filename(c.tls, c.db, z)))
		require.NoError(t, err)
		require.Equal(t, want, got, "the handle is not the connection's")
		require.Nil(t, c.scan)
	})

	root := anchor.NewID()
	b := &delta.Batch{Root: root, Changes: []delta.Change{{ID: root, Create: &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root"}}}}
	for range 3 * scanBatchRows {
		n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Peer"}
		e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "Has", Source: root, Target: n.ID}
		b.Changes = append(b.Changes, delta.Change{ID: n.ID, Create: n}, delta.Change{ID: e.ID, Create: e})
	}
	_, err = s.Apply(ctx, b)
	require.NoError(t, err)
	list := func() (peers []anchor.ID) {
		require.NoError(t, s.View(ctx, func(v backend.View) error {
			return v.Adjacent(root, func(r anchor.Adj) error { peers = append(peers, r.Peer); return nil })
		}))
		return peers
	}
	scanned := list()
	require.Len(t, scanned, 3*scanBatchRows)
	var db uintptr
	withReadConn(t, s, func(c *readConn) {
		require.NotNil(t, c.scan, "the View's scan did not use the connection's scanner")
		db, c.db = c.db, 0
	})
	require.Equal(t, scanned, list(), "listed through database/sql")
	withReadConn(t, s, func(c *readConn) { c.db = db })
}
