package racetests

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
)

// TestMain fails the run if any test leaves a goroutine behind (a store not
// closed, a walker still blocked on a barrier, a group committer still
// running), and stops the PostgreSQL server if a scenario started one.
func TestMain(m *testing.M) {
	code := pgtest.StopAfter(m).Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
