package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/delta"
)

// failoverCycles is how many kill-and-promote cycles TestFailover runs:
// 20 (under a minute with -race on two cores), 100 with ANCHORAGE_SOAK set.
func failoverCycles() int {
	if os.Getenv("ANCHORAGE_SOAK") != "" {
		return 100
	}
	return 20
}

// commitOutcome is what one walker's Apply returned.
type commitOutcome struct {
	node, edge anchor.ID
	err        error
}

// TestFailover: a Store opened once, with the multi-host DSN of a primary
// and its synchronous standby, keeps committing while the primary is
// killed (SIGKILL), the standby promoted and the dead node rejoined as the
// new standby, cycle after cycle. Afterwards, on the final primary, every
// commit that returned nil is present, every commit that returned a plain
// error is absent, and commits whose outcome was reported unknown are
// counted. Every walker reads back what it committed, across failovers.
func TestFailover(t *testing.T) {
	c := startCluster(t)
	cycles, walkers := failoverCycles(), 6
	const schema = "failover"
	began := time.Now()

	s, err := postgres.Open(c.DSN("postgres"), &postgres.Options{Schema: schema})
	require.NoError(t, err)
	defer s.Close()
	roots := make([]anchor.ID, walkers)
	for i := range roots {
		roots[i] = backendtest.NewRootNode(t, s, anchor.Access{})
	}

	// Most walkers wait out a failover; the others give up after 200 ms,
	// so some commits fail with a plain error (the database unavailable)
	// and must be absent.
	patience := []time.Duration{30 * time.Second, 30 * time.Second, 200 * time.Millisecond}
	var (
		stop        atomic.Bool
		committed   atomic.Int64
		viewRetries atomic.Int64
		wg          sync.WaitGroup
		results     = make([][]commitOutcome, walkers)
		readErrs    = make(chan error, walkers)
	)
	for w := range walkers {
		wg.Go(func() {
			root := roots[w]
			for i := 0; !stop.Load(); i++ {
				n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Item"}
				e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "Has", Source: root, Target: n.ID}
				ctx, cancel := context.WithTimeout(context.Background(), patience[w%len(patience)])
				err := backendtest.Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}, {ID: e.ID, Create: e}}})
				cancel()
				results[w] = append(results[w], commitOutcome{n.ID, e.ID, err})
				if err != nil {
					continue
				}
				committed.Add(1)
				if i%4 != 0 {
					continue
				}
				// Read it back through the same Store, whichever node is primary now.
				// A View whose server dies under it fails, typed: run it again.
				ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
				for {
					err = s.View(ctx, func(v backend.View) error {
						_, err := v.Anchor(n.ID)
						return err
					})
					if !errors.Is(err, backend.ErrUnavailable) || ctx.Err() != nil {
						break
					}
					viewRetries.Add(1)
				}
				cancel()
				if err != nil {
					readErrs <- fmt.Errorf("walker %d: reading back node %s committed before: %w", w, n.ID, err)
					return
				}
			}
		})
	}
	defer func() { stop.Store(true); wg.Wait() }()

	// progress waits until the walkers have committed more (through the
	// current primary) since mark.
	progress := func(what string, mark int64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for committed.Load() < mark+20 {
			select {
			case err := <-readErrs:
				t.Fatal(err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the Store did not resume: %d commits in 60 s", what, committed.Load()-mark)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	progress("before the first failover", committed.Load())
	for cycle := range cycles {
		t0 := time.Now()
		require.NoError(t, c.KillPrimary(), "cycle %d", cycle)
		require.NoError(t, c.Promote(ctx), "cycle %d", cycle)
		mark := committed.Load() // what commits after this, commits on the new primary
		t1 := time.Now()
		require.NoError(t, c.Rejoin(ctx), "cycle %d", cycle)
		t2 := time.Now()
		progress(fmt.Sprintf("after failover %d", cycle), mark)
		t.Logf("cycle %2d: killed, promoted in %s, standby rejoined in %s, resumed after %s; %d commits so far",
			cycle, t1.Sub(t0).Round(time.Millisecond), t2.Sub(t1).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), committed.Load())
	}
	stop.Store(true)
	wg.Wait()
	select {
	case err := <-readErrs:
		t.Fatal(err)
	default:
	}

	// The store goes on without being reopened.
	backendtest.NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())

	// Check on the final primary alone.
	final, err := postgres.Open(c.Primary().DSN("postgres"), &postgres.Options{Schema: schema, ReadOnly: true})
	require.NoError(t, err)
	defer final.Close()
	var ok, unknown, failed, landedUnknown, unavailable int
	plain, unknowns := map[string]int{}, map[string]int{}
	require.NoError(t, final.View(context.Background(), func(v backend.View) error {
		present := func(id anchor.ID) bool {
			_, err := v.Anchor(id)
			if err != nil {
				require.ErrorIs(t, err, anchor.ErrNotFound)
			}
			return err == nil
		}
		for w, rs := range results {
			for i, r := range rs {
				node, edge := present(r.node), present(r.edge)
				require.Equal(t, node, edge, "walker %d commit %d: a node and its edge are one write (err %v)", w, i, r.err)
				switch {
				case r.err == nil:
					ok++
					require.True(t, node, "walker %d commit %d returned nil but is not on the final primary", w, i)
				case errors.Is(r.err, anchor.ErrOutcomeUnknown):
					unknown++
					unknowns[sockets.ReplaceAllString(r.err.Error(), "…")]++
					if node {
						landedUnknown++
					}
				default:
					failed++
					if errors.Is(r.err, backend.ErrUnavailable) {
						unavailable++
					}
					plain[sockets.ReplaceAllString(r.err.Error(), "…")]++
					require.False(t, node, "walker %d commit %d failed (%v) but is on the final primary", w, i, r.err)
				}
			}
		}
		return nil
	}))
	backendtest.RequireClean(t, final)
	t.Logf("%d failovers in %s: %d commits returned nil (all present), %d failed with a plain error (all absent; %d of them: database unavailable), %d outcome unknown (%d of them landed); %d reads were cut by a failover and run again",
		cycles, time.Since(began).Round(time.Millisecond), ok, failed, unavailable, unknown, landedUnknown, viewRetries.Load())
	logCounts(t, "plain error", plain)
	logCounts(t, "outcome unknown", unknowns)
}

// sockets matches the socket paths and numbers in error messages, so that
// errors that differ only there are counted together.
var sockets = regexp.MustCompile(`/tmp/[^ :)]*|[0-9.]+m?s\b`)

// logCounts logs each distinct message of counts with its count.
func logCounts(t *testing.T, what string, counts map[string]int) {
	var msgs []string
	for m, n := range counts {
		msgs = append(msgs, fmt.Sprintf("%s: %d x %s", what, n, m))
	}
	sort.Strings(msgs)
	for _, m := range msgs {
		t.Log(m)
	}
}
