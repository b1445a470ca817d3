package postgres_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/delta"
)

// TestMain stops the shared PostgreSQL server, then fails the run if a test
// left a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.StopAfter(m)) }

func TestOpenRefusesForeignAndNewer(t *testing.T) {
	server := pgtest.Shared(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, server.DSN("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	foreign, newer, absent := server.NewSchema(t), server.NewSchema(t), server.NewSchema(t)
	_, err = conn.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %[1]s; CREATE TABLE %[1]s.users (id int)`, foreign))
	require.NoError(t, err)
	_, err = postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: foreign})
	require.ErrorIs(t, err, anchor.ErrNotStore)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = $1`, foreign).Scan(&n))
	require.Equal(t, 1, n, "a refused open creates nothing")

	s, err := postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: newer})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = conn.Exec(ctx, `UPDATE `+newer+`.meta SET schema_version = schema_version + 1`)
	require.NoError(t, err)
	_, err = postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: newer})
	require.ErrorIs(t, err, anchor.ErrVersion)

	_, err = postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: absent, ReadOnly: true})
	require.ErrorIs(t, err, anchor.ErrNotStore)
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, absent).Scan(&n))
	require.Zero(t, n, "a read-only open creates nothing")
}

func TestReadOnly(t *testing.T) {
	server := pgtest.Shared(t)
	schema := server.NewSchema(t)
	s, err := postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: schema})
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())
	ro, err := postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: schema, ReadOnly: true})
	require.NoError(t, err)
	defer ro.Close()
	require.Equal(t, "Root", backendtest.Stored(t, ro, root).Type)
	err = backendtest.Apply(context.Background(), ro, &delta.Batch{Changes: []delta.Change{{ID: root, Delete: true}}})
	require.ErrorIs(t, err, anchor.ErrReadOnly)
	size, err := ro.Size(context.Background())
	require.NoError(t, err)
	require.Positive(t, size)
}

func TestDrop(t *testing.T) {
	server := pgtest.Shared(t)
	schema := server.NewSchema(t)
	s, err := postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: schema})
	require.NoError(t, err)
	backendtest.NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())
	require.NoError(t, postgres.Drop(server.DSN("postgres"), schema))
	_, err = postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: schema, ReadOnly: true})
	require.ErrorIs(t, err, anchor.ErrNotStore, "the store is gone")
	require.ErrorIs(t, postgres.Drop(server.DSN("postgres"), "pg_catalog"), anchor.ErrNotStore, "only Anchorage stores are dropped")
}
