package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// TestFaults: a full disk (Options.MaxPages) and a write error
// (a driver wrapped by backendtest.Faulty) during commit lose nothing and the store recovers.
func TestFaults(t *testing.T) {
	backendtest.RunFaults(t, backendtest.FaultOpeners{
		Limited: func(t testing.TB, dir string, small bool) backend.Store {
			pages := int64(1 << 20)
			if small {
				pages = 64 // 256 KiB of 4 KiB pages
			}
			s, err := sqlite.Open(filepath.Join(dir, "full.sqlite"), &sqlite.Options{MaxPages: pages})
			require.NoError(t, err)
			return s
		},
		Driver: func(t testing.TB, dir string) backend.Driver {
			d, err := sqlite.OpenDriver(filepath.Join(dir, "fault.sqlite"), nil)
			require.NoError(t, err)
			return d
		},
	})
}
