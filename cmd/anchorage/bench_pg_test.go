package main

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

// TestBenchPostgresProcesses runs the multi-process postgres points small:
// every scenario and design reports commits from every client process,
// and nothing is lost, on disjoint roots or on the shared one.
func TestBenchPostgresProcesses(t *testing.T) {
	srv, err := pgtest.Start()
	if errors.Is(err, pgtest.ErrNoBinaries) {
		t.Skip("PostgreSQL bench not tested: " + err.Error())
	}
	require.NoError(t, err)
	t.Cleanup(srv.Stop)

	r := cli(t, "bench", "--postgres", srv.DSN("postgres"), "--backends", "bolt", "--walkers", "1", "--modes", "group",
		"--hub-sizes", "", "--duration", "300ms", "--pg-procs", "2", "--pg-walkers", "3", "--json", "-q")
	requireOK(t, r)
	var out benchOutput
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	require.Len(t, out.PGProcs, 5)
	for _, p := range out.PGProcs {
		require.Equal(t, 2, p.Procs)
		require.Equal(t, 3, p.Walkers)
		require.Positive(t, p.Commits, "%s/%s", p.Scenario, p.Design)
		require.Zero(t, p.Errors, "%s/%s", p.Scenario, p.Design)
		require.Zero(t, p.EdgesLost, "%s/%s", p.Scenario, p.Design)
	}

	r = cli(t, "bench", "--postgres", srv.DSN("postgres"), "--pg-procs", "2", "--pg-walkers", "0")
	require.Equal(t, exitUsage, r.code, r.stderr)
}
