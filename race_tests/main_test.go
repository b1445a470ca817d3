package racetests

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any test leaves a goroutine behind (a store not
// closed, a walker still blocked on a barrier, a group committer still
// running).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
