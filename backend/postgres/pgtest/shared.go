package pgtest

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// shared is the one server of a test binary, started by the first Shared
// call and stopped by the Run of a Runner made by StopAfter.
var shared struct {
	once sync.Once
	srv  *Server
	err  error
	mu   sync.Mutex // guards stopped
	stop bool
}

// Shared returns the throwaway server of this test binary, starting it on
// first use. Where no PostgreSQL binaries are installed it skips t, saying
// why; any other failure to start fails t (and every later caller).
//
// The server outlives the test that started it: wrap the binary's
// testing.M with StopAfter so that it is stopped when the tests are done.
func Shared(t testing.TB) *Server {
	t.Helper()
	shared.once.Do(func() {
		shared.mu.Lock()
		defer shared.mu.Unlock()
		if shared.stop {
			shared.err = errors.New("pgtest: Shared called after the shared server was stopped")
			return
		}
		shared.srv, shared.err = Start()
	})
	if errors.Is(shared.err, ErrNoBinaries) {
		t.Skip("PostgreSQL not available: " + shared.err.Error())
	}
	if shared.err != nil {
		t.Fatalf("starting the throwaway PostgreSQL server: %v", shared.err)
	}
	return shared.srv
}

// Runner is what a TestMain runs: *testing.M, or goleak's TestingM.
type Runner interface{ Run() int }

// StopAfter returns m with a Run that runs m's tests and then stops the
// server Shared started, if any, so that a leak check run after it (e.g.
// goleak.VerifyTestMain(pgtest.StopAfter(m))) sees no goroutine of the
// server's process.
func StopAfter(m Runner) Runner { return stopAfter{m} }

type stopAfter struct{ m Runner }

func (s stopAfter) Run() int {
	defer stopShared()
	return s.m.Run()
}

func stopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.stop = true
	if shared.srv != nil {
		shared.srv.Stop()
	}
}

// NewSchema returns the name of a schema that no other call on this server
// returned, derived from t's name so that a leftover schema says which test
// made it. The schema is not created: opening a store in it does that.
func (s *Server) NewSchema(t testing.TB) string {
	n := s.schemas.Add(1)
	name := strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_"), "_")
	return fmt.Sprintf("t%d_%s", n, name[:min(len(name), 40)])
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)
