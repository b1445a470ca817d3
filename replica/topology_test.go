package replica_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/backendtest/backends"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// openBackend opens a fresh store of the named backend of the test
// registry (bolt, sqlite, postgres), verified when the test ends. The
// PostgreSQL one skips the test where no server binaries are installed.
func openBackend(t *testing.T, name string) backend.Store {
	t.Helper()
	for _, b := range backends.All() {
		if b.Name == name {
			return backendtest.New(t, b.Opener(nil)).Open()
		}
	}
	t.Fatalf("no backend %q", name)
	return nil
}

// link is one Follow: src's changes pushed into dst.
type link struct{ src, dst backend.Store }

// topology runs one Follow per link while a walker on every store makes
// steps random changes of every kind (nodes, objects, edges, fields,
// access, deletes, restores), all in their own goroutines. Once the
// walkers are done it waits until every link has no lag and the full
// dumps of all stores are identical, with the followers still running;
// then it stops them and checks the dumps again, the independent model of
// the merge rules, and that every anchor a walker committed is on every
// store.
func topology(t *testing.T, seed uint64, steps int, stores []backend.Store, links []link) {
	root := backendtest.NewRootNode(t, stores[0], anchor.Access{})
	fctx, stop := context.WithCancel(ctx)
	var followers sync.WaitGroup
	for _, l := range links {
		followers.Go(func() {
			err := replica.Follow(fctx, l.src, l.dst, &replica.FollowOptions{Interval: 2 * time.Millisecond,
				MaxBackoff: 20 * time.Millisecond, Import: replica.ImportOptions{ChunkRecords: 16}})
			if !errors.Is(err, context.Canceled) {
				t.Errorf("follow: %v", err)
			}
		})
	}
	defer func() { stop(); followers.Wait() }()

	var mu sync.Mutex // guards m, ids, nodes, restorable, committed
	m := newModel()
	m.observe(t, stores[0], root) // the model knows every anchor from its creation
	ids, nodes, restorable := []anchor.ID{root}, []anchor.ID{root}, []anchor.ID{root}
	committed := map[anchor.ID]bool{root: true}
	var walkers sync.WaitGroup
	for i, s := range stores {
		walkers.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			for range steps {
				if err := walkStep(s, rng, &mu, m, &ids, &nodes, &restorable, committed); err != nil {
					t.Errorf("walker on store %d: %v", i, err)
					return
				}
				time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
			}
		})
	}
	walkers.Wait()
	require.False(t, t.Failed())

	require.Eventually(t, func() bool {
		for _, l := range links {
			src := backendtest.Meta(t, l.src)
			cur, _, err := replica.ReadCursor(ctx, l.dst, src.StoreID)
			if err != nil || cur.Through != src.Seq {
				return false
			}
		}
		want := fullDump(t, stores[0])
		for _, s := range stores[1:] {
			if fullDump(t, s) != want {
				return false
			}
		}
		return true
	}, 60*time.Second, 5*time.Millisecond, "the followers converge")
	stop()
	followers.Wait()
	lives, edges := 0, 0
	for _, a := range m.anchors {
		lives += len(a.deleted) - 1
		if a.kind == anchor.KindEdge {
			edges++
		}
	}
	t.Logf("%d anchors (%d edges), %d of them created, %d restored lives", len(m.anchors), edges, len(committed), lives)
	requireSameDumps(t, stores...)
	for _, s := range stores {
		m.check(t, s)
		for id := range committed {
			backendtest.Stored(t, s, id) // every committed anchor arrived
		}
		require.NoError(t, s.View(ctx, func(v backend.View) error {
			held, err := delta.CountHeld(v)
			require.Zero(t, held, "no edge is still held")
			return err
		}))
	}
}

// walkStep makes one random change on s as the system root; a change to
// an anchor that has not arrived on s yet, or is deleted there, is skipped.
func walkStep(s backend.Store, rng *rand.Rand, mu *sync.Mutex, m *model, ids, nodes, restorable *[]anchor.ID, committed map[anchor.ID]bool) error {
	mu.Lock()
	pick := func(from []anchor.ID) anchor.ID { return from[rng.IntN(len(from))] }
	id, a, b := pick(*ids), pick(*nodes), pick(*nodes)
	back := pick(*restorable)
	mu.Unlock()
	w := tiered.New(s, anchor.SystemRoot, nil)
	var touched []anchor.ID
	var created anchor.ID
	var kind anchor.Kind
	var err error
	switch op := rng.IntN(10); {
	case op <= 1:
		kind = []anchor.Kind{anchor.KindNode, anchor.KindNode, anchor.KindObject}[rng.IntN(3)]
		created, err = w.Create(kind, "T", map[string]any{"v": rng.IntN(4)})
		touched = append(touched, created)
	case op <= 3:
		kind = anchor.KindEdge
		created, err = w.Connect(ctx, a, b, "E", map[string]any{"w": rng.IntN(4)})
		touched = append(touched, created)
	case op <= 5:
		err = w.Set(ctx, id, fmt.Sprint("f", rng.IntN(3)), rng.IntN(4))
		touched = append(touched, id)
	case op == 6:
		err = w.SetAccess(ctx, id, anchor.Access{All: anchor.Level(rng.IntN(4))})
		touched = append(touched, id)
	case op == 7:
		err = w.Delete(ctx, id)
		touched = append(touched, id)
	default:
		err = w.Restore(ctx, back)
		touched = append(touched, back)
	}
	if err == nil {
		err = w.Commit(ctx)
	}
	if anchor.IsNotFound(err) {
		return nil // not (yet, or any more) on this store
	}
	if err != nil {
		return err
	}
	mu.Lock()
	defer mu.Unlock()
	for _, x := range touched {
		if err := m.observeErr(s, x); err != nil {
			return err
		}
	}
	if !created.IsZero() {
		committed[created] = true
		*ids = append(*ids, created)
		switch kind {
		case anchor.KindNode:
			*nodes = append(*nodes, created)
			*restorable = append(*restorable, created)
		case anchor.KindObject:
			*restorable = append(*restorable, created)
		}
	}
	return nil
}

// TestFollowRing: three bolt stores follow each other in a ring (A→B→C→A)
// while walkers write on every side; everything converges.
func TestFollowRing(t *testing.T) {
	a, b, c := openBackend(t, "bolt"), openBackend(t, "bolt"), openBackend(t, "bolt")
	stores := []backend.Store{a, b, c}
	topology(t, 1, 150, stores, []link{{a, b}, {b, c}, {c, a}})
}

// TestFollowCentralPostgres: a bolt store and a SQLite store each follow a
// central PostgreSQL store and are followed by it (the local-cache-plus-
// server shape), with walkers writing on all three; everything converges.
func TestFollowCentralPostgres(t *testing.T) {
	central := openBackend(t, "postgres")
	local1, local2 := openBackend(t, "bolt"), openBackend(t, "sqlite")
	stores := []backend.Store{central, local1, local2}
	topology(t, 2, 150, stores, []link{{local1, central}, {central, local1}, {local2, central}, {central, local2}})
}
