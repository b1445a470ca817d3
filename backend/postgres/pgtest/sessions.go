package pgtest

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AwaitSessionsEnded waits until the server has no session left whose
// application_name is app, polling pg_stat_activity, and returns an error
// naming the sessions still there if ctx ends first.
//
// A client killed by a signal does not take its server sessions with it:
// a session that had already received a COMMIT completes it, and only then
// notices that the client is gone and exits. Once no session of the killed
// client remains, the store is in its final state and can be checked.
// Tag the client's connections by adding application_name=app to its DSN.
func (s *Server) AwaitSessionsEnded(ctx context.Context, app string) error {
	conn, err := pgx.Connect(ctx, s.DSN("postgres"))
	if err != nil {
		return fmt.Errorf("pgtest: connecting to watch the sessions of %q: %w", app, err)
	}
	defer conn.Close(context.Background())
	var n int
	var states string
	for {
		err := conn.QueryRow(ctx, `SELECT count(*), coalesce(string_agg(pid || ': ' || coalesce(state, '?') || ' ' || left(query, 60), '; '), '')
			FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n, &states)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			return fmt.Errorf("pgtest: watching the sessions of %q: %w", app, err)
		case n == 0:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgtest: %d session(s) of %q still open when last looked (%s): %w", n, app, states, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
