package pgtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

// TestClusterFailsOverTwice: a row committed on the primary is on the
// promoted standby, the multi-host DSN finds the new primary, and the
// rejoined node is a synchronous standby again, so a second failover
// finds the rows of both eras.
func TestClusterFailsOverTwice(t *testing.T) {
	c, err := pgtest.StartCluster()
	if errors.Is(err, pgtest.ErrNoBinaries) {
		t.Skip("PostgreSQL not available: " + err.Error())
	}
	require.NoError(t, err)
	defer c.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	exec := func(q string, args ...any) {
		t.Helper()
		conn, err := pgx.Connect(ctx, c.DSN("postgres"))
		require.NoError(t, err)
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, q, args...)
		require.NoError(t, err)
	}
	exec(`CREATE TABLE t (v int)`)
	for i := range 2 {
		old := c.Primary()
		exec(`INSERT INTO t VALUES ($1)`, i)
		require.NoError(t, c.Failover(ctx))
		require.NotSame(t, old, c.Primary(), "failover %d: the standby became primary", i)
	}
	conn, err := pgx.Connect(ctx, c.DSN("postgres"))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM t`).Scan(&n))
	require.Equal(t, 2, n)
	var standbys int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'`).Scan(&standbys))
	require.Equal(t, 1, standbys, "the rejoined node is a synchronous standby")
}
