package racetests

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

// The PostgreSQL server shared by this test binary's scenarios: started on
// first use, stopped by TestMain.
var pg struct {
	once    sync.Once
	server  *pgtest.Server
	skipWhy string
	err     error
}

func pgServer(t testing.TB) *pgtest.Server {
	pg.once.Do(func() {
		pg.server, pg.err = pgtest.Start()
		if errors.Is(pg.err, pgtest.ErrNoBinaries) {
			pg.skipWhy, pg.err = pg.err.Error(), nil
		}
	})
	require.NoError(t, pg.err, "starting the throwaway PostgreSQL server")
	if pg.server == nil {
		t.Skip("PostgreSQL scenarios skipped: " + pg.skipWhy)
	}
	return pg.server
}

func stopPG() {
	if pg.server != nil {
		pg.server.Stop()
	}
}

// pgOpener opens the store kept under a schema named after dir.
func pgOpener(opts postgres.Options) backendtest.Opener {
	return func(t testing.TB, dir string) backend.Store {
		srv := pgServer(t)
		opts.Schema = pgtest.SchemaFor(dir)
		s, err := postgres.Open(srv.DSN("postgres"), &opts)
		require.NoError(t, err)
		return s
	}
}
