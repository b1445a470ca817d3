package sqlite_test

import (
	"bytes"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// TestInlineBigValueFromSchema3: a schema-3 store (no vals table) whose
// field row holds a large value inline, as builds before out-of-line
// values wrote it, is refused read-only (ErrVersion, as every schema
// before 4); a read-write open migrates it to the current schema, the
// value reads the same, and the next write of the anchor
// moves it to vals (the field row then holds an integer reference),
// exactly, Verify clean.
func TestInlineBigValueFromSchema3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v3.sqlite")
	s, err := sqlite.Open(path, nil)
	require.NoError(t, err)
	root, n := backendtest.NewBlobNode(t, s)
	require.NoError(t, s.Close())

	big := bytes.Repeat([]byte{0}, 2*anchor.OutOfLine) // what zeroblob writes
	rawExec(t, path, append(adjTable(true), "DROP TABLE vals", "UPDATE fields SET value = zeroblob(2 * 65536) WHERE name = 'blob'",
		sqlite.ResumSQL, "PRAGMA user_version = 3")...)

	_, err = sqlite.Open(path, &sqlite.Options{ReadOnly: true}) // as for every schema before 4
	require.ErrorIs(t, err, anchor.ErrVersion)

	s, err = sqlite.Open(path, nil)
	require.NoError(t, err)
	backendtest.RequireUpgradedKeepsBlob(t, s, sqlite.SchemaVersion, root, n, big)
	require.NoError(t, s.Close())

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var typ string
	var size int
	require.NoError(t, db.QueryRow(`SELECT typeof(f.value), length(v.value) FROM fields f JOIN vals v ON v.id = f.id AND v.name = f.name
		WHERE f.name = 'blob'`).Scan(&typ, &size))
	require.Equal(t, "integer", typ)
	require.Equal(t, len(big), size)
}
