package backend_test

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/backend/backendtest/backends"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.StopAfter(m)) }

// TestBackends runs the conformance, fault and limits suites on every
// backend of the registry (package backends).
func TestBackends(t *testing.T) { backends.Run(t) }
