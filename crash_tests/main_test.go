package crash_tests

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a test leaves a goroutine behind (a store not
// closed, a child-output reader still running).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
