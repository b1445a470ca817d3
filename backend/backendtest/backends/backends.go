// Package backends is the registry of test backends: every Anchorage
// backend as the shared suites of package backendtest open it, so that one
// list runs every suite on bolt, sqlite and PostgreSQL. It is a package of
// its own because the backends' own tests import backendtest.
package backends

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// Backend is one backend as the shared suites open it: the registry of
// test backends, so every suite runs on every backend from one list.
type Backend struct {
	Name string
	// Driver opens the bare driver of the store kept in dir, creating it
	// if dir holds none. Opening the same dir again gives the same store.
	Driver func(t testing.TB, dir string) backend.Driver
	// Limited opens the store in dir with a small (about 256 KiB) or a
	// roomy size cap; nil for a backend without one.
	Limited func(t testing.TB, dir string, small bool) backend.Store
	// Compact compacts the store s (opened by Opener from dir) and
	// returns the store to go on with (reopened if compaction needed it
	// closed) and the sizes before and after.
	Compact backendtest.Compactor
	// DamageValue damages a field value kept out of line (damage.go).
	DamageValue backendtest.ValueDamager
}

// engineCompact compacts an open store through Engine.Compact.
func engineCompact(t testing.TB, _ string, s backend.Store, _ func() backend.Store) (backend.Store, backend.CompactStats) {
	st, err := s.(*backend.Engine).Compact(context.Background())
	require.NoError(t, err)
	return s, st
}

// Opener returns an Opener of the engine, with opts, over b's driver.
func (b Backend) Opener(opts *backend.Options) backendtest.Opener {
	return func(t testing.TB, dir string) backend.Store {
		s, err := backend.New(b.Driver(t, dir), b.Name+" store in "+dir, opts)
		require.NoError(t, err)
		return s
	}
}

// All returns every backend. The PostgreSQL one opens a schema named
// after dir on the test binary's shared throwaway server (pgtest.Shared),
// and skips the test, saying why, where no server binaries are installed;
// a TestMain running it must stop the server with pgtest.StopAfter.
func All() []Backend {
	return []Backend{
		{
			Name: "bolt",
			Driver: func(t testing.TB, dir string) backend.Driver {
				d, err := bolt.OpenDriver(filepath.Join(dir, "anchorage.db"), &bolt.Options{NoSync: true})
				require.NoError(t, err)
				return d
			},
			Limited: func(t testing.TB, dir string, small bool) backend.Store {
				size := int64(64 << 20)
				if small {
					size = 256 << 10
				}
				s, err := bolt.Open(filepath.Join(dir, "full.db"), &bolt.Options{MaxSize: size})
				require.NoError(t, err)
				return s
			},
			Compact: func(t testing.TB, dir string, s backend.Store, reopen func() backend.Store) (backend.Store, backend.CompactStats) {
				require.NoError(t, s.Close())
				st, err := bolt.Compact(context.Background(), filepath.Join(dir, "anchorage.db"), nil)
				require.NoError(t, err)
				return reopen(), st
			},
			DamageValue: boltDamage,
		},
		{
			Name: "sqlite",
			Driver: func(t testing.TB, dir string) backend.Driver {
				d, err := sqlite.OpenDriver(filepath.Join(dir, "anchorage.sqlite"), nil)
				require.NoError(t, err)
				return d
			},
			Limited: func(t testing.TB, dir string, small bool) backend.Store {
				pages := int64(1 << 20)
				if small {
					pages = 64 // 256 KiB of 4 KiB pages
				}
				s, err := sqlite.Open(filepath.Join(dir, "full.sqlite"), &sqlite.Options{MaxPages: pages})
				require.NoError(t, err)
				return s
			},
			Compact:     engineCompact,
			DamageValue: sqliteDamage,
		},
		{
			Name: "postgres",
			Driver: func(t testing.TB, dir string) backend.Driver {
				srv := pgtest.Shared(t)
				d, err := postgres.OpenDriver(srv.DSN("postgres"), &postgres.Options{Schema: pgtest.SchemaFor(dir)})
				require.NoError(t, err)
				return d
			},
			Compact:     engineCompact,
			DamageValue: postgresDamage,
		},
	}
}

// Run runs the conformance suite (with and without group commit), the
// fault suite, the purge cases and the limits on every registered backend.
func Run(t *testing.T) {
	for _, b := range All() {
		t.Run(b.Name, func(t *testing.T) {
			t.Run("Conformance", func(t *testing.T) { backendtest.Run(t, b.Opener(nil)) })
			t.Run("ConformanceNoGroupCommit", func(t *testing.T) { backendtest.Run(t, b.Opener(&backend.Options{NoGroupCommit: true})) })
			t.Run("Find", func(t *testing.T) { backendtest.RunFind(t, b.Opener(nil)) })
			t.Run("FindNoGroupCommit", func(t *testing.T) { backendtest.RunFind(t, b.Opener(&backend.Options{NoGroupCommit: true})) })
			t.Run("Faults", func(t *testing.T) {
				backendtest.RunFaults(t, backendtest.FaultOpeners{Limited: b.Limited, Driver: b.Driver})
			})
			t.Run("TxReads", func(t *testing.T) { backendtest.RunTxReads(t, b.Driver) })
			t.Run("Purge", func(t *testing.T) { backendtest.RunPurge(t, b.Opener(nil), b.Compact, b.Name != "postgres") })
			t.Run("BigField", func(t *testing.T) {
				size := backendtest.BigFieldBytes
				if mib, err := strconv.Atoi(os.Getenv("ANCHORAGE_BIGFIELD_MIB")); err == nil && mib > 0 {
					size = mib << 20
				}
				backendtest.RunBigField(t, b.Opener(&backend.Options{Limits: backendtest.BigFieldLimits(size)}), size)
			})
			t.Run("BigFieldUnread", func(t *testing.T) { backendtest.RunBigFieldUnread(t, b.Driver) })
			t.Run("BigFieldDamage", func(t *testing.T) {
				o := backend.Options{Limits: backendtest.BigFieldLimits(2 * anchor.OutOfLine)}
				backendtest.RunBigFieldDamage(t, b.Opener(&o), b.DamageValue)
			})
			t.Run("Limits", func(t *testing.T) {
				o := backendtest.LimitsOptions
				backendtest.RunLimits(t, b.Opener(&o))
			})
		})
	}
}
