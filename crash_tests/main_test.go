package crash_tests

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

// TestMain stops the shared PostgreSQL server, if a test started it, and
// fails the run if a test leaves a goroutine behind (a store not closed, a
// child-output reader still running).
func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.StopAfter(m)) }
