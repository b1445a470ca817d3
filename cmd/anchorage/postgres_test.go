package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

// TestPostgresCommands runs the commands against a throwaway PostgreSQL
// server: the demo writes there, verify/stats read it, and an export from
// it imports into a bolt file.
func TestPostgresCommands(t *testing.T) {
	srv := pgtest.Shared(t)
	dsn := srv.DSN("postgres")

	r := cli(t, "demo", "--backend", "postgres", "--db", dsn, "--schema", "cli_demo", "--walkers", "2", "--edges", "3", "--json", "-q")
	requireOK(t, r)
	var out demoOutput
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)

	requireOK(t, cli(t, "verify", "--db", dsn, "--schema", "cli_demo"))
	r = cli(t, "stats", "--db", dsn, "--schema", "cli_demo", "--json")
	requireOK(t, r)
	var st statsJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &st))
	require.Equal(t, "postgres", st.Backend)
	require.Positive(t, st.Edges)

	file := filepath.Join(t.TempDir(), "pg.anchx")
	requireOK(t, cli(t, "export", "--db", dsn, "--schema", "cli_demo", "--out", file, "-q"))
	local := filepath.Join(t.TempDir(), "local.db")
	requireOK(t, cli(t, "import", "--trust", file, "--db", local, "-q"))
	ea := cli(t, "edges", out.Root, "--db", dsn, "--schema", "cli_demo", "--json")
	eb := cli(t, "edges", out.Root, "--db", local, "--json")
	requireOK(t, ea)
	requireOK(t, eb)
	require.JSONEq(t, ea.stdout, eb.stdout)

	r = cli(t, "stats", "--db", dsn, "--schema", "absent")
	require.Equal(t, 2, r.code, r.stderr)
	require.Contains(t, r.stderr, "not an anchorage store")

	// bench measures postgres on the given server, each point in a fresh
	// schema that it drops afterwards.
	r = cli(t, "bench", "--postgres", dsn, "--backends", "postgres", "--walkers", "1,4", "--duration", "100ms",
		"--hub-sizes", "10", "--min-ops", "2", "--json", "-q")
	requireOK(t, r)
	var bo benchOutput
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &bo), r.stdout)
	require.Len(t, bo.Throughput, 4) // 2 walker counts x group/nogroup
	for _, p := range bo.Throughput {
		require.Equal(t, "postgres", p.Backend)
		require.Positive(t, p.Commits)
		require.Zero(t, p.EdgesLost, "%+v", p)
		require.Zero(t, p.Errors, "%+v", p)
	}
	require.Len(t, bo.Hub, 1)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var left int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.schemata WHERE schema_name LIKE 'anchorage_bench_%' OR schema_name LIKE 'anchorage_hub_%'`).Scan(&left))
	require.Zero(t, left, "bench left schemas behind")
}
