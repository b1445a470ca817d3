package backend_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest/backends"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// profileStore builds a store whose root has one HasProfile edge among
// messages Posted edges (the profile's edge made half-way), written by the
// system root in batches of 10,000.
func profileStore(b *testing.B, be backends.Backend, messages int) (backend.Store, anchor.ID) {
	ctx := context.Background()
	s := be.Opener(nil)(b, b.TempDir())
	b.Cleanup(func() { s.Close() })
	root, err := tiered.CreateRoot(ctx, s, nil)
	if err != nil {
		b.Fatal(err)
	}
	edge := func(typ string) []delta.Change {
		n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Message"}
		if typ == "HasProfile" {
			n.Type = "UserProfile"
		}
		e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: typ, Source: root, Target: n.ID}
		return []delta.Change{{ID: n.ID, Create: n}, {ID: e.ID, Create: e}}
	}
	batch := &delta.Batch{}
	for i := range messages {
		if i == messages/2 {
			batch.Changes = append(batch.Changes, edge("HasProfile")...)
		}
		batch.Changes = append(batch.Changes, edge("Posted")...)
		if len(batch.Changes) >= 20_000 || i == messages-1 {
			if _, err := s.Apply(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = &delta.Batch{}
		}
	}
	return s, root
}

// BenchmarkFindProfile is the "me" walker's read: find the root's one
// UserProfile edge and load the profile, on a root with 10 and with 10^5
// other edges. Typed: through EdgesOf (the index keyed by type); Scan:
// the way before it, every edge of the root listed and filtered by hand.
// The typed cost should not grow with the root's other edges.
func BenchmarkFindProfile(b *testing.B) {
	ctx := context.Background()
	for _, be := range backends.All() {
		for _, n := range []int{10, 100_000} {
			b.Run(fmt.Sprintf("%s/edges=%d", be.Name, n), func(b *testing.B) {
				s, root := profileStore(b, be, n)
				find := func(b *testing.B, scan bool) {
					m := tiered.New(s, root, nil)
					var peer anchor.ID
					if scan {
						rows, err := m.Edges(ctx, root)
						if err != nil {
							b.Fatal(err)
						}
						for _, r := range rows {
							if r.Type == "HasProfile" && r.Dir == anchor.Out {
								peer = r.Peer
							}
						}
					} else {
						for r, err := range m.EdgesOf(ctx, root, delta.EdgeQuery{Dir: anchor.Out, Type: "HasProfile"}) {
							if err != nil {
								b.Fatal(err)
							}
							peer = r.Peer
						}
					}
					if p, err := m.Get(ctx, peer); err != nil || p.Type != "UserProfile" {
						b.Fatalf("profile %v: %v", p, err)
					}
				}
				b.Run("Typed", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						find(b, false)
					}
				})
				b.Run("Scan", func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						find(b, true)
					}
				})
			})
		}
	}
}

// BenchmarkEdgePage lists the first 100 Posted edges of a root with 10^5,
// one page through the typed index, and reports its allocations: a page
// reads its rows, not the rest of the root's edges.
func BenchmarkEdgePage(b *testing.B) {
	ctx := context.Background()
	for _, be := range backends.All() {
		b.Run(be.Name, func(b *testing.B) {
			s, root := profileStore(b, be, 100_000)
			b.ReportAllocs()
			for b.Loop() {
				rows, next, err := tiered.New(s, root, nil).EdgePage(ctx, root, delta.EdgeQuery{Dir: anchor.Out, Type: "Posted"}, 100)
				if err != nil || len(rows) != 100 || next == nil {
					b.Fatalf("%d rows, next %x: %v", len(rows), next, err)
				}
			}
		})
	}
}

// BenchmarkAdjacencyScan lists all edges of a root with 10^5 through the
// store's View.Adjacent (the edge index, checksums checked, rows
// decoded) and reports ns and allocations per edge, on every backend.
func BenchmarkAdjacencyScan(b *testing.B) { adjacencyScan(b, false) }

// BenchmarkAdjacencyScanAfterCommit is BenchmarkAdjacencyScan with a
// small commit (a node of its own, untimed) before every scan, as when
// walkers write between reads: a store whose read caches a commit
// invalidates (SQLite's) reads the scan's pages afresh.
func BenchmarkAdjacencyScanAfterCommit(b *testing.B) { adjacencyScan(b, true) }

func adjacencyScan(b *testing.B, commit bool) {
	ctx := context.Background()
	const edges = 100_000
	for _, be := range backends.All() {
		b.Run(be.Name, func(b *testing.B) {
			s, root := profileStore(b, be, edges)
			b.ReportAllocs()
			for b.Loop() {
				if commit {
					b.StopTimer()
					o := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Other"}
					if _, err := s.Apply(ctx, &delta.Batch{Changes: []delta.Change{{ID: o.ID, Create: o}}}); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				n := 0
				err := s.View(ctx, func(v backend.View) error {
					return v.Adjacent(root, func(anchor.Adj) error { n++; return nil })
				})
				if err != nil || n != edges+1 {
					b.Fatalf("%d rows: %v", n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/(edges+1), "ns/edge")
		})
	}
}
