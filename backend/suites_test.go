package backend_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.StopAfter(m)) }

// TestBackends runs the conformance and fault suites on every backend of
// the registry (backendtest.Backends).
func TestBackends(t *testing.T) { backendtest.RunAll(t) }
