package bolt_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
)

func open(t testing.TB, dir string) backend.Store {
	s, err := bolt.Open(filepath.Join(dir, "anchorage.db"), &bolt.Options{NoSync: true})
	require.NoError(t, err)
	return s
}

func TestConformance(t *testing.T) { backendtest.Run(t, open) }

func TestConformanceNoGroupCommit(t *testing.T) {
	backendtest.Run(t, func(t testing.TB, dir string) backend.Store {
		s, err := bolt.Open(filepath.Join(dir, "anchorage.db"), &bolt.Options{NoSync: true, NoGroupCommit: true})
		require.NoError(t, err)
		return s
	})
}
