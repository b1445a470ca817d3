package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
)

// TestFaults: a full disk (Options.MaxSize) and a write error
// (a driver wrapped by backendtest.Faulty) during commit lose nothing and the store recovers.
func TestFaults(t *testing.T) {
	backendtest.RunFaults(t, backendtest.FaultOpeners{
		Limited: func(t testing.TB, dir string, small bool) backend.Store {
			size := int64(64 << 20)
			if small {
				size = 256 << 10
			}
			s, err := bolt.Open(filepath.Join(dir, "full.db"), &bolt.Options{MaxSize: size})
			require.NoError(t, err)
			return s
		},
		Driver: func(t testing.TB, dir string) backend.Driver {
			d, err := bolt.OpenDriver(filepath.Join(dir, "fault.db"), &bolt.Options{NoSync: true})
			require.NoError(t, err)
			return d
		},
	})
}
