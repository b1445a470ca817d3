package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// downgradeToV1 turns a store into the schema-1 layout: no checksum
// columns, no index table, no vals table.
func downgradeToV1(t *testing.T, path string) {
	t.Helper()
	var stmts []string
	for _, tc := range [][2]string{{"meta", "crc"}, {"fields", "crc"}, {"anchors", "crc"}, {"anchors", "fsum"},
		{"adj", "crc"}, {"log", "crc"}, {"kv", "crc"}} {
		stmts = append(stmts, "ALTER TABLE "+tc[0]+" DROP COLUMN "+tc[1])
	}
	rawExec(t, path, append(stmts, "DROP TABLE idx", "DROP TABLE vals", "DELETE FROM kv WHERE key = 'delta/indexed'", "PRAGMA user_version = 1")...)
}

// TestMigrateToChecksums: a schema-1 store (rows without checksums) is
// refused read-only with anchor.ErrVersion, migrated by a read-write Open,
// and then reads exactly as before, checksums and all, and stays writable.
func TestMigrateToChecksums(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.sqlite")
	root := seed(t, path)
	before := dump(t, path)
	downgradeToV1(t, path)

	_, err := sqlite.Open(path, &sqlite.Options{ReadOnly: true})
	require.ErrorIs(t, err, anchor.ErrVersion)

	s, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		require.Equal(t, sqlite.SchemaVersion, v.Meta().Schema)
		return nil
	}))
	backendtest.RequireClean(t, s)
	require.NoError(t, s.Close())
	require.Equal(t, before, dump(t, path))

	s, err = sqlite.Open(path, nil)
	require.NoError(t, err)
	defer s.Close()
	b, _ := nodeBatch(root)
	require.NoError(t, backendtest.Apply(ctx, s, b))
	backendtest.RequireClean(t, s)
}

// dump reads every anchor and adjacency row of the store at path.
func dump(t *testing.T, path string) []any {
	t.Helper()
	s, err := sqlite.Open(path, &sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	var out []any
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		if err := v.Anchors(func(_ anchor.ID, a *anchor.Anchor, err error) error {
			out = append(out, a, err)
			return nil
		}); err != nil {
			return err
		}
		return v.Adjacency(func(a anchor.Adj) error { out = append(out, a); return nil })
	}))
	return out
}
