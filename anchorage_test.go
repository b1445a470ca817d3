package anchorage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage"
	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/tiered"
)

func TestLocate(t *testing.T) {
	dir := t.TempDir()
	// A SQLite database keeps its backend whatever its name.
	sq := filepath.Join(dir, "named-like-bolt.db")
	s, err := sqlite.Open(sq, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	cases := []struct{ dsn, name, target string }{
		{"graph.db", anchorage.Bolt, "graph.db"},
		{"/var/lib/app/graph", anchorage.Bolt, "/var/lib/app/graph"},
		{"bolt://graph.sqlite", anchorage.Bolt, "graph.sqlite"},
		{"graph.sqlite", anchorage.SQLite, "graph.sqlite"},
		{"graph.SQLITE3", anchorage.SQLite, "graph.SQLITE3"},
		{"dir/graph.db3", anchorage.SQLite, "dir/graph.db3"},
		{"sqlite://graph.db", anchorage.SQLite, "graph.db"},
		{"sqlite:///abs/graph.db", anchorage.SQLite, "/abs/graph.db"},
		{sq, anchorage.SQLite, sq},
		{"postgres://u@h/db", anchorage.Postgres, "postgres://u@h/db"},
		{"postgresql://u@h/db?sslmode=disable", anchorage.Postgres, "postgresql://u@h/db?sslmode=disable"},
		{"host=/tmp/pg port=5432 dbname=x", anchorage.Postgres, "host=/tmp/pg port=5432 dbname=x"},
		{"dbname=x", anchorage.Postgres, "dbname=x"},
		{"backups/host=a.db", anchorage.Bolt, "backups/host=a.db"},
	}
	for _, c := range cases {
		name, target := anchorage.Locate(c.dsn)
		require.Equal(t, c.name, name, c.dsn)
		require.Equal(t, c.target, target, c.dsn)
	}
}

// roundTrip writes a node through s and reads it back.
func roundTrip(t *testing.T, s backend.Store) {
	t.Helper()
	ctx := context.Background()
	id := anchor.NewID()
	sys := tiered.New(s, anchor.SystemRoot, nil)
	require.NoError(t, sys.CreateAt(id, anchor.KindNode, "Root", map[string]any{"n": 7}))
	require.NoError(t, sys.Commit(ctx))
	var n int
	require.NoError(t, tiered.New(s, anchor.SystemRoot, nil).Field(ctx, id, "n", &n))
	require.Equal(t, 7, n)
}

func TestOpenFiles(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		dsn, file string
		want      any
	}{
		{filepath.Join(dir, "a.db"), "a.db", &bolt.Store{}},
		{"bolt://" + filepath.Join(dir, "b.sqlite"), "b.sqlite", &bolt.Store{}},
		{filepath.Join(dir, "c.sqlite"), "c.sqlite", &sqlite.Store{}},
		{filepath.Join(dir, "d.sqlite3"), "d.sqlite3", &sqlite.Store{}},
		{filepath.Join(dir, "e.db3"), "e.db3", &sqlite.Store{}},
		{"sqlite://" + filepath.Join(dir, "f.db"), "f.db", &sqlite.Store{}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			s, err := anchorage.Open(c.dsn)
			require.NoError(t, err)
			require.IsType(t, c.want, s)
			roundTrip(t, s)
			require.NoError(t, s.Close())
			_, err = os.Stat(filepath.Join(dir, c.file))
			require.NoError(t, err, "the store is at the path without its scheme")

			// Reopened by its path alone, an existing SQLite file is SQLite.
			s, err = anchorage.Open(filepath.Join(dir, c.file))
			require.NoError(t, err)
			require.IsType(t, c.want, s)
			require.NoError(t, s.Close())
		})
	}
	_, err := anchorage.Open("")
	require.Error(t, err)
	_, err = anchorage.Open("sqlite://")
	require.Error(t, err)

	notStore := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notStore, []byte("hello, not a store, at all"), 0o600))
	_, err = anchorage.Open(notStore)
	require.ErrorIs(t, err, anchor.ErrNotStore)
}

func TestOpenPostgres(t *testing.T) {
	srv := pgtest.Shared(t)
	url := fmt.Sprintf("postgres:///postgres?host=%s&port=%d&user=postgres&sslmode=disable", srv.Dir, srv.Port)
	for _, dsn := range []string{url, "postgresql" + url[len("postgres"):], srv.DSN("postgres")} {
		s, err := anchorage.Open(dsn)
		require.NoError(t, err, dsn)
		require.IsType(t, &postgres.Store{}, s)
		roundTrip(t, s)
		require.NoError(t, s.Close())
	}
}

func TestMain(m *testing.M) { os.Exit(pgtest.StopAfter(m).Run()) }
