package replica_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/replica"
)

// BenchmarkSyncHub syncs a hub with 4·10^4 edges (each to a new leaf)
// into an empty store (bolt, fsync off), in two shapes: "as-made", and
// "hub-changed-last", where the hub's record changed after its edges were
// made, so its change-log entry, and its chunk, come after all of them and
// the receiver holds every edge until the hub arrives. Reports ns per
// edge and the edges held.
func BenchmarkSyncHub(b *testing.B) {
	const edges = 40_000
	for _, touched := range []bool{false, true} {
		name := "as-made"
		if touched {
			name = "hub-changed-last"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			open := func(name string) backend.Store {
				s, err := bolt.Open(filepath.Join(b.TempDir(), name), &bolt.Options{NoSync: true})
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { s.Close() })
				return s
			}
			src := open("src.db")
			owner := anchor.NewID()
			hub := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "Hub"}
			if _, err := src.Apply(ctx, &delta.Batch{Changes: []delta.Change{{ID: hub.ID, Create: hub}}}); err != nil {
				b.Fatal(err)
			}
			for done := 0; done < edges; done += 5000 {
				batch := &delta.Batch{}
				for range 5000 {
					leaf := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "Leaf"}
					e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: owner, Type: "E", Source: hub.ID, Target: leaf.ID}
					batch.Changes = append(batch.Changes, delta.Change{ID: leaf.ID, Create: leaf}, delta.Change{ID: e.ID, Create: e})
				}
				if _, err := src.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			if touched {
				v, err := anchor.EncodeValue("changed")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := src.Apply(ctx, &delta.Batch{Changes: []delta.Change{{ID: hub.ID, Set: map[string][]byte{"f": v}}}}); err != nil {
					b.Fatal(err)
				}
			}
			held := 0
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				dst := open("dst.db")
				b.StartTimer()
				res, err := replica.Sync(ctx, src, dst, nil)
				if err != nil {
					b.Fatal(err)
				}
				held = res.Import.Stats.Total().Held
				if got := res.Import.Stats.ByKind[anchor.KindEdge].Inserted; got != edges {
					b.Fatalf("%d edges arrived, want %d", got, edges)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*edges), "ns/edge")
			b.ReportMetric(float64(held), "held")
		})
	}
}
