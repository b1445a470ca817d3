package pgtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/internal/childproc"
)

// TestMain stops the shared server, then fails the run if a test left a
// goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.StopAfter(m)) }

const envDSN = "PGTEST_LATE_COMMIT_DSN"

// TestAwaitSessionsEndedOutlastsALateCommit pins the harness bug behind a
// flaky TestCrashLoop/postgres ("run 5: the child resumed after commit 73,
// but the store was checked to hold commits up to 72"): a client process
// killed while the server is still executing its transaction does not stop
// the server from committing it afterwards, so a store checked as soon as
// the client is dead can miss a commit that lands later.
// AwaitSessionsEnded returns only once that late commit has landed.
func TestAwaitSessionsEndedOutlastsALateCommit(t *testing.T) {
	if table, ok := childproc.Role(); ok {
		lateCommitClient(t, table)
		return
	}
	srv := pgtest.Shared(t)
	ctx := context.Background()
	schema := srv.NewSchema(t)
	app := schema // unique on this server
	admin, err := pgx.Connect(ctx, srv.DSN("postgres"))
	require.NoError(t, err)
	defer admin.Close(ctx)
	table := pgx.Identifier{schema, "t"}.Sanitize()
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()+"; CREATE TABLE "+table+" (v int)")
	require.NoError(t, err)

	child := childproc.Command(t, "TestAwaitSessionsEndedOutlastsALateCommit", table,
		envDSN+"="+srv.DSN("postgres")+" application_name="+app)
	require.NoError(t, child.Start())
	defer child.Wait()
	defer child.Process.Kill()
	require.Eventually(t, func() bool {
		var n int
		err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'PgSleep'`, app).Scan(&n)
		return err == nil && n == 1
	}, time.Minute, 5*time.Millisecond, "the client's transaction never reached its sleep")

	require.NoError(t, child.Process.Kill())
	killed := time.Now()
	_ = child.Wait()
	var rows int
	require.NoError(t, admin.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&rows))
	if time.Since(killed) < time.Second {
		require.Zero(t, rows, "the transaction landed before its sleep ended: this test no longer shows a commit landing after its client died")
	}

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, srv.AwaitSessionsEnded(wctx, app))
	require.NoError(t, admin.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&rows))
	require.Equal(t, 1, rows, "once the dead client's session has ended, its last commit has landed")
}

// lateCommitClient is the child of TestAwaitSessionsEndedOutlastsALateCommit:
// it sends one transaction that inserts a row into table, sleeps 2 s and
// commits, and waits to be killed.
func lateCommitClient(t *testing.T, table string) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, os.Getenv(envDSN))
	require.NoError(t, err)
	// One simple query: one implicit transaction, committed after the sleep.
	_, err = conn.Exec(ctx, "INSERT INTO "+table+" VALUES (1); SELECT pg_sleep(2)")
	t.Fatalf("the client was not killed during its transaction (which returned %v)", err)
}
