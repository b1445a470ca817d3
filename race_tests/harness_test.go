package racetests

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// ---------------------------------------------------------------------------
// Backends

// backendCase is one durable tier the engine half of every scenario runs on.
type backendCase struct {
	name string
	open backendtest.Opener
}

func boltOpener(opts bolt.Options) backendtest.Opener {
	return func(t testing.TB, dir string) backend.Store {
		s, err := bolt.Open(filepath.Join(dir, "anchorage.db"), &opts)
		require.NoError(t, err)
		return s
	}
}

func sqliteOpener(opts sqlite.Options) backendtest.Opener {
	return func(t testing.TB, dir string) backend.Store {
		s, err := sqlite.Open(filepath.Join(dir, "anchorage.sqlite"), &opts)
		require.NoError(t, err)
		return s
	}
}

// engineBackends lists the backends every scenario runs against, each with
// its cheaper durability setting (TestMinimalRepro also runs the defaults).
func engineBackends() []backendCase {
	return []backendCase{
		{name: "bolt", open: boltOpener(bolt.Options{NoSync: true})},
		{name: "sqlite", open: sqliteOpener(sqlite.Options{Synchronous: sqlite.SyncNormal})},
		{name: "postgres", open: pgOpener(postgres.Options{})},
	}
}

// ---------------------------------------------------------------------------
// Soak

// soakEnv names the environment variable that makes every scenario run
// longer: a Go duration (e.g. 10m). Each scenario run (per strategy and
// backend) keeps repeating its rounds until that much time has passed.
const soakEnv = "ANCHORAGE_SOAK"

func soakFor(t testing.TB) time.Duration {
	v := os.Getenv(soakEnv)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		t.Fatalf("%s=%q: want a Go duration such as 10m", soakEnv, v)
	}
	return d
}

// repeat runs fn for at least atLeast rounds and, under ANCHORAGE_SOAK,
// until the soak duration has passed. It stops early once the test has
// failed. It returns the number of rounds run.
func repeat(t testing.TB, atLeast int, fn func(round int)) int {
	soak := soakFor(t)
	start := time.Now()
	n := 0
	for ; n < atLeast || time.Since(start) < soak; n++ {
		if t.Failed() {
			break
		}
		fn(n)
	}
	return n
}

// ---------------------------------------------------------------------------
// Running scenarios

// tally counts one kind of committed write a scenario checks for.
type tally struct {
	what     string
	expected int // committed (acknowledged) writes of this kind
	stored   int // of those, how many the store still holds
	// naiveMustLose: the scenario's schedule makes the naive writer lose
	// some of these deterministically; if it does not, the scenario is
	// broken (it could not detect the bug it pins).
	naiveMustLose bool
}

func (x tally) lost() int { return x.expected - x.stored }

// runScenario runs body against the naive whole-document writer, where the
// tallies marked naiveMustLose must show a loss, and through the engine on
// each backend, where nothing may be lost.
func runScenario(t *testing.T, backends []backendCase, body func(t *testing.T, g graph) []tally) {
	t.Run("naive", func(t *testing.T) {
		tallies := body(t, openNaive(t))
		if t.Failed() {
			return
		}
		for _, x := range tallies {
			t.Logf("naive whole-document writer: %s: expected %d, stored %d, lost %d", x.what, x.expected, x.stored, x.lost())
			if x.naiveMustLose && x.lost() <= 0 {
				t.Errorf("the naive writer lost no %s: this scenario cannot detect the bug it pins", x.what)
			}
		}
	})
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			g := openEngine(t, b)
			tallies := body(t, g)
			for _, x := range tallies {
				t.Logf("engine on %s: %s: expected %d, stored %d, lost %d", b.name, x.what, x.expected, x.stored, x.lost())
				if x.lost() != 0 {
					t.Errorf("engine on %s lost %d of %d %s", b.name, x.lost(), x.expected, x.what)
				}
			}
		})
	}
}

// group runs goroutines and collects their errors.
type group struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func (g *group) Go(name string, fn func() error) {
	g.wg.Go(func() {
		if err := fn(); err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, fmt.Errorf("%s: %w", name, err))
			g.mu.Unlock()
		}
	})
}

func (g *group) Wait() error {
	g.wg.Wait()
	return errors.Join(g.errs...)
}

// barrier lets n goroutines wait until all of them have arrived. A
// goroutine that returns early must still arrive (defer b.arrive()), so a
// failing walker does not hang the others; arriving twice is harmless.
type barrier struct {
	wg sync.WaitGroup
}

func newBarrier(n int) *barrier {
	b := &barrier{}
	b.wg.Add(n)
	return b
}

// member returns the arrive function of one participant (idempotent).
func (b *barrier) member() func() { return sync.OnceFunc(b.wg.Done) }

func (b *barrier) wait() { b.wg.Wait() }

// signal is a one-shot broadcast: closing is idempotent.
type signal struct {
	ch   chan struct{}
	once sync.Once
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }
func (s *signal) fire()  { s.once.Do(func() { close(s.ch) }) }
func (s *signal) wait()  { <-s.ch }
func (s *signal) fired() bool {
	select {
	case <-s.ch:
		return true
	default:
		return false
	}
}

// countIn returns how many of want are in have.
func countIn(want, have map[anchor.ID]bool) int {
	n := 0
	for id := range want {
		if have[id] {
			n++
		}
	}
	return n
}

// requireNoStrays fails if have holds an edge that is neither in want nor
// in also: an edge nobody committed is as much a bug as a lost one.
func requireNoStrays(t testing.TB, node anchor.ID, have map[anchor.ID]bool, want ...map[anchor.ID]bool) {
	t.Helper()
	for id := range have {
		known := false
		for _, w := range want {
			known = known || w[id]
		}
		if !known {
			t.Errorf("node %s holds edge %s that no walker committed", node, id)
		}
	}
}
