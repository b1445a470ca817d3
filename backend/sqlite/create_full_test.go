package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// TestCreateOnFullDisk: creating a store where there is no room for its
// schema (here MaxPages, which fails writes as a full disk does) reports
// anchor.ErrFull, not a raw SQLite error, and leaves nothing the next Open
// cannot complete: with room, the same path becomes a clean store.
func TestCreateOnFullDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.sqlite")
	_, err := sqlite.Open(path, &sqlite.Options{MaxPages: 2})
	require.ErrorIs(t, err, anchor.ErrFull)
	if fi, err := os.Stat(path); err == nil {
		t.Logf("left behind: %d bytes", fi.Size())
	}
	s, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	b, _ := nodeBatch(root)
	require.NoError(t, backendtest.Apply(ctx, s, b))
	backendtest.RequireClean(t, s)
}
