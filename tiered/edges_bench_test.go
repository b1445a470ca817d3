package tiered_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// defaultHubEdges is the hub's size in BenchmarkHubEdges: large enough
// that the per-edge costs dominate, small enough to build in seconds.
// ANCHORAGE_HUB_EDGES sets another (10^6 takes a few minutes to build).
const defaultHubEdges = 200_000

// hubSize returns the hub's size: ANCHORAGE_HUB_EDGES, or defaultHubEdges.
func hubSize(b *testing.B) int {
	v := os.Getenv("ANCHORAGE_HUB_EDGES")
	if v == "" {
		return defaultHubEdges
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 2 {
		b.Fatalf("ANCHORAGE_HUB_EDGES=%q: want a number of edges, at least 2", v)
	}
	return n
}

// hubStore builds a bolt store (fsync off) with a node of hubEdges edges,
// each readable by every root, written as the system root in large
// batches. It returns the store and the hub.
func hubStore(b *testing.B, hubEdges int) (backend.Store, anchor.ID) {
	s, err := bolt.Open(filepath.Join(b.TempDir(), "hub.db"), &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	owner := anchor.NewID()
	hub := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "Hub", Access: anchor.Access{All: anchor.Read}}
	ctx := context.Background()
	if _, err := s.Apply(ctx, &delta.Batch{Changes: []delta.Change{{ID: hub.ID, Create: hub}}}); err != nil {
		b.Fatal(err)
	}
	const per = 20_000
	for done := 0; done < hubEdges; done += per {
		batch := &delta.Batch{}
		for range min(per, hubEdges-done) {
			n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "Item", Access: anchor.Access{All: anchor.Read}}
			e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: owner, Type: "Has", Source: hub.ID, Target: n.ID, Access: anchor.Access{All: anchor.Read}}
			batch.Changes = append(batch.Changes, delta.Change{ID: n.ID, Create: n}, delta.Change{ID: e.ID, Create: e})
		}
		if _, err := s.Apply(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	return s, hub.ID
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkHubEdges lists a hub of hubSize edges four ways in one run: a
// bare scan of the driver's index entries under the hub's prefix (the
// floor: no checksum, no decoding), the store's streaming View.Adjacent
// (checksums and decoding, no access checks), the walker's streaming
// Memory.EdgesSeq, and the walker's materialised Memory.Edges. The walker
// is not the hub's owner, so every access check runs. Reports ns/edge and
// live_B: the live heap the listing holds, sampled half-way through a
// stream, or with Edges' result in hand.
func BenchmarkHubEdges(b *testing.B) {
	hubEdges := hubSize(b)
	s, hub := hubStore(b, hubEdges)
	ctx := context.Background()
	walker := anchor.NewID()
	run := func(b *testing.B, list func(mid func()) int) {
		// One untimed listing samples the live heap; the timed ones don't.
		base, live := liveHeap(), uint64(0)
		list(func() { live = max(liveHeap(), base) - base })
		b.ReportAllocs()
		for b.Loop() {
			if n := list(func() {}); n != hubEdges {
				b.Fatalf("listed %d edges, want %d", n, hubEdges)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(hubEdges), "ns/edge")
		b.ReportMetric(float64(live), "live_B")
	}
	// scan lists the hub through one View with each, counting rows.
	scan := func(each func(v backend.View, row func() error) error) func(mid func()) int {
		return func(mid func()) int {
			n := 0
			row := func() error {
				if n++; n == hubEdges/2 {
					mid()
				}
				return nil
			}
			if err := s.View(ctx, func(v backend.View) error { return each(v, row) }); err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Run("View.Index", func(b *testing.B) {
		prefix := append([]byte{'e'}, hub[:]...)
		run(b, scan(func(v backend.View, row func() error) error {
			return v.Index(prefix, nil, func(k, v []byte) error { return row() })
		}))
	})
	b.Run("View.Adjacent", func(b *testing.B) {
		run(b, scan(func(v backend.View, row func() error) error {
			return v.Adjacent(hub, func(anchor.Adj) error { return row() })
		}))
	})
	b.Run("Memory.EdgesSeq", func(b *testing.B) {
		run(b, func(mid func()) int {
			n := 0
			for _, err := range tiered.New(s, walker, nil).EdgesSeq(ctx, hub) {
				if err != nil {
					b.Fatal(err)
				}
				if n++; n == hubEdges/2 {
					mid()
				}
			}
			return n
		})
	})
	b.Run("Memory.Edges", func(b *testing.B) {
		run(b, func(mid func()) int {
			rows, err := tiered.New(s, walker, nil).Edges(ctx, hub)
			if err != nil {
				b.Fatal(err)
			}
			mid()
			n := len(rows)
			runtime.KeepAlive(rows)
			return n
		})
	})
}
