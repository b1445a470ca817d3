package postgres_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

// TestInlineBigValueFromLayout2: a layout-2 store (no vals table) whose
// record holds a large value inline, as builds before out-of-line values
// wrote it, reads the same read-only; a read-write open upgrades it to
// layout 3, the value reads the same, and the next write of the anchor
// moves it to vals (record format 2), exactly, Verify clean.
func TestInlineBigValueFromLayout2(t *testing.T) {
	server := pgtest.Shared(t)
	ctx := context.Background()
	schema := server.NewSchema(t)
	dsn := server.DSN("postgres")
	s, err := postgres.Open(dsn, &postgres.Options{Schema: schema})
	require.NoError(t, err)
	root, n := backendtest.NewBlobNode(t, s)
	require.NoError(t, s.Close())

	big, err := anchor.EncodeValue(bytes.Repeat([]byte{4}, 2*anchor.OutOfLine))
	require.NoError(t, err)
	rec := backendtest.InlineRecord(t, n, big)
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	q := func(table string) string { return pgx.Identifier{schema, table}.Sanitize() }
	for _, stmt := range []string{`DROP TABLE ` + q("vals"), `UPDATE ` + q("meta") + ` SET schema_version = 2`} {
		_, err := conn.Exec(ctx, stmt)
		require.NoError(t, err)
	}
	_, err = conn.Exec(ctx, `UPDATE `+q("anchors")+` SET rec = $1 WHERE id = $2`, rec, n.ID[:])
	require.NoError(t, err)

	ro, err := postgres.Open(dsn, &postgres.Options{Schema: schema, ReadOnly: true})
	require.NoError(t, err)
	require.Equal(t, big, backendtest.Stored(t, ro, n.ID).Fields["blob"].Value)
	backendtest.RequireClean(t, ro)
	require.NoError(t, ro.Close())

	s, err = postgres.Open(dsn, &postgres.Options{Schema: schema})
	require.NoError(t, err)
	defer s.Close()
	backendtest.RequireUpgradedKeepsBlob(t, s, postgres.SchemaVersion, root, n, big)
	var version byte
	var size int
	require.NoError(t, conn.QueryRow(ctx, `SELECT get_byte(a.rec, 0), length(v.value) FROM `+q("anchors")+` a JOIN `+q("vals")+
		` v ON v.id = a.id WHERE a.id = $1`, n.ID[:]).Scan(&version, &size))
	require.Equal(t, anchor.FormatOutOfLine, version)
	require.Equal(t, len(big), size)
}
