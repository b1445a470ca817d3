package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/delta"
)

// startCluster starts a primary with a synchronous standby for t, or skips
// t where no PostgreSQL binaries are installed.
func startCluster(t *testing.T) *pgtest.Cluster {
	t.Helper()
	c, err := pgtest.StartCluster()
	if errors.Is(err, pgtest.ErrNoBinaries) {
		t.Skip("PostgreSQL not available: " + err.Error())
	}
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	return c
}

// TestCommitTerminatedInSyncWait: a session terminated while its COMMIT
// waits for the synchronous standby (a shutdown of the primary does this)
// has committed locally, and the server closes the connection without a
// word to the client. The engine must report the outcome as unknown, not
// as a refused commit: here the write did land.
func TestCommitTerminatedInSyncWait(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := postgres.Open(c.DSN("postgres"), &postgres.Options{Schema: "syncwait", NoGroupCommit: true})
	require.NoError(t, err)
	defer s.Close()
	root := backendtest.NewRootNode(t, s, anchor.Access{})

	c.HaltStandby()
	n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "N"}
	done := make(chan error, 1)
	go func() {
		done <- backendtest.Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}}})
	}()
	admin, err := pgx.Connect(ctx, c.Primary().DSN("postgres"))
	require.NoError(t, err)
	defer admin.Close(context.Background())
	require.Eventually(t, func() bool {
		var waiting int
		err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'SyncRep'`).Scan(&waiting)
		return err == nil && waiting == 1
	}, 30*time.Second, 5*time.Millisecond, "the commit never waited for the standby")
	_, err = admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE wait_event = 'SyncRep'`)
	require.NoError(t, err)
	err = <-done
	require.ErrorIs(t, err, anchor.ErrOutcomeUnknown, "got %v", err)

	require.NoError(t, c.ResumeStandby(ctx))
	require.Equal(t, "N", backendtest.Stored(t, s, n.ID).Type, "the terminated commit had landed")
	backendtest.RequireClean(t, s)
}
