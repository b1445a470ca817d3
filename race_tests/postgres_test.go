package racetests

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

// pgOpener opens the store kept under a schema named after dir, on the
// PostgreSQL server shared by this test binary's scenarios.
func pgOpener(opts postgres.Options) backendtest.Opener {
	return func(t testing.TB, dir string) backend.Store {
		srv := pgtest.Shared(t)
		opts.Schema = pgtest.SchemaFor(dir)
		s, err := postgres.Open(srv.DSN("postgres"), &opts)
		require.NoError(t, err)
		return s
	}
}
