package sqlite_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/tiered"
)

// adjTable returns the statements that give a store of the current
// schema the adjacency table of schemas 1 to 4, filled as those schemas
// kept it: one row per end of every live edge, keyed by (node, edge).
// With sums the rows carry their checksum column (schemas 2 to 4).
func adjTable(sums bool) []string {
	live := fmt.Sprintf("FROM anchors WHERE kind = %d AND deleted = 0", anchor.KindEdge)
	stmts := []string{
		`CREATE TABLE adj (
	node BLOB NOT NULL,
	edge BLOB NOT NULL,
	peer BLOB NOT NULL,
	dir  INTEGER NOT NULL,
	type TEXT NOT NULL,
	PRIMARY KEY (node, edge)
) WITHOUT ROWID`,
		fmt.Sprintf("INSERT INTO adj SELECT source, id, target, CASE undirected WHEN 1 THEN %d ELSE %d END, type %s",
			anchor.Both, anchor.Out, live),
		fmt.Sprintf("INSERT INTO adj SELECT target, id, source, CASE undirected WHEN 1 THEN %d ELSE %d END, type %s AND target != source",
			anchor.Both, anchor.In, live),
	}
	if sums {
		stmts = append(stmts, "ALTER TABLE adj ADD COLUMN crc INTEGER NOT NULL DEFAULT 0",
			"UPDATE adj SET crc = anchorage_crc('adj', node, edge, peer, dir, type)")
	}
	return stmts
}

// downgradeToV1 turns a store into the schema-1 layout: no checksum
// columns, no index table, no vals table, an adjacency table.
func downgradeToV1(t *testing.T, path string) {
	t.Helper()
	stmts := adjTable(false)
	for _, tc := range [][2]string{{"meta", "crc"}, {"fields", "crc"}, {"anchors", "crc"}, {"anchors", "fsum"},
		{"log", "crc"}, {"kv", "crc"}} {
		stmts = append(stmts, "ALTER TABLE "+tc[0]+" DROP COLUMN "+tc[1])
	}
	rawExec(t, path, append(stmts, "DROP TABLE idx", "DROP TABLE vals", "DELETE FROM kv WHERE key = 'delta/indexed'", "PRAGMA user_version = 1")...)
}

// adjRows counts the rows of the adjacency table of the store at path, or
// returns -1 if it has none.
func adjRows(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 'adj'").Scan(&n))
	if n == 0 {
		return -1
	}
	require.NoError(t, db.QueryRow("SELECT count(*) FROM adj").Scan(&n))
	return n
}

// TestUpgradeDropsAdjacency: a schema-4 store (an adjacency table beside
// the edge index) opened read-write ends at schema 5 without the table,
// its edges still listed by View.Adjacent and View.Adjacency, now from the
// index, Verify clean, writable. That holds whether the index was built
// (every store a schema-4 build opened read-write) or not (the engine then
// builds it on the same open). A read-only open reads a schema-4 store as
// it is, at schema 4, and leaves the file unchanged; a schema-4 store
// without its adjacency table is refused as damaged.
func TestUpgradeDropsAdjacency(t *testing.T) {
	for _, tc := range []struct {
		name    string
		indexed bool
	}{{"indexed", true}, {"not indexed", false}} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "v4.sqlite")
			root := seed(t, path)
			before := dump(t, path)
			edges := adjacent(t, path, root)
			require.Len(t, edges, 50)
			stmts := append(adjTable(true), "PRAGMA user_version = 4")
			if !tc.indexed {
				stmts = append(stmts, "DELETE FROM idx", "DELETE FROM kv WHERE key = 'delta/indexed'")
			}
			rawExec(t, path, stmts...)
			require.Equal(t, 100, adjRows(t, path), "the schema-4 fixture has both rows of each of the 50 edges")

			if tc.indexed {
				file, err := os.ReadFile(path)
				require.NoError(t, err)
				ro, err := sqlite.Open(path, &sqlite.Options{ReadOnly: true})
				require.NoError(t, err)
				require.Equal(t, 4, backendtest.Meta(t, ro).Schema)
				require.Equal(t, 50, backendtest.EdgeCount(t, ro, root))
				backendtest.RequireClean(t, ro)
				require.NoError(t, ro.Close())
				after, err := os.ReadFile(path)
				require.NoError(t, err)
				require.Equal(t, file, after, "a read-only open of a schema-4 store never changes the file")
			}

			s, err := sqlite.Open(path, nil)
			require.NoError(t, err)
			require.Equal(t, sqlite.SchemaVersion, backendtest.Meta(t, s).Schema)
			require.Equal(t, 5, sqlite.SchemaVersion)
			backendtest.RequireClean(t, s)
			require.NoError(t, s.Close())
			require.Equal(t, -1, adjRows(t, path), "schema 5 has no adjacency table")
			require.Equal(t, edges, adjacent(t, path, root))
			require.Equal(t, before, dump(t, path))

			s, err = sqlite.Open(path, nil)
			require.NoError(t, err)
			defer s.Close()
			m := tiered.New(s, root, nil)
			n, err := m.Create(anchor.KindNode, "Late", nil)
			require.NoError(t, err)
			_, err = m.Connect(ctx, root, n, "Has", nil)
			require.NoError(t, err)
			require.NoError(t, m.Commit(ctx))
			require.Equal(t, 51, backendtest.EdgeCount(t, s, root))
			require.Equal(t, 1, backendtest.EdgeCount(t, s, n))
			backendtest.RequireClean(t, s)
		})
	}

	path := filepath.Join(t.TempDir(), "v4-no-adj.sqlite")
	seed(t, path)
	rawExec(t, path, "PRAGMA user_version = 4")
	requireRefused(t, path, anchor.ErrCorrupt)
}

// adjacent lists node's edges in the store at path, opened read-only.
func adjacent(t *testing.T, path string, node anchor.ID) []anchor.Adj {
	t.Helper()
	s, err := sqlite.Open(path, &sqlite.Options{ReadOnly: true})
	require.NoError(t, err)
	defer s.Close()
	var out []anchor.Adj
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		return v.Adjacent(node, func(a anchor.Adj) error { out = append(out, a); return nil })
	}))
	return out
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

// dump reads every anchor and adjacency row (from the edge index) of the
// store at path.
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
