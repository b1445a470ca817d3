package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// opener returns a backendtest.Opener for stores with opts.
func opener(opts sqlite.Options) backendtest.Opener {
	return func(t testing.TB, dir string) backend.Store {
		o := opts
		s, err := sqlite.Open(filepath.Join(dir, "anchorage.sqlite"), &o)
		require.NoError(t, err)
		return s
	}
}

// TestMain fails the run if a test leaves goroutines behind: a closed Store
// must have stopped its committer, connection pools and context watchers.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The conformance and fault suites run on every backend from the registry
// (package backend's TestBackends); this one adds SyncNormal.

func TestConformanceSyncNormal(t *testing.T) {
	backendtest.Run(t, opener(sqlite.Options{Synchronous: sqlite.SyncNormal}))
}
