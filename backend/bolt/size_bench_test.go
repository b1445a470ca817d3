package bolt_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
)

// BenchmarkBytesPerEdge reports the file size per edge (bytes/edge) of a
// store grown by b.N edges in batches of 1000, for two shapes: a hub whose
// every edge goes to a new leaf node (time-ordered keys throughout), and
// edges between random pairs of 5,000 existing nodes (adjacency keys in no
// order). Run with -benchtime 200000x for a stable figure.
func BenchmarkBytesPerEdge(b *testing.B) {
	for _, shape := range []string{"hub", "random"} {
		b.Run(shape, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "size.db")
			s, err := bolt.Open(path, &bolt.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			root := anchor.NewID()
			setup := &delta.Batch{Changes: []delta.Change{{ID: root, Create: &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root"}}}}
			var nodes []anchor.ID
			if shape == "random" {
				for range 5000 {
					n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "N"}
					nodes = append(nodes, n.ID)
					setup.Changes = append(setup.Changes, delta.Change{ID: n.ID, Create: n})
				}
			}
			if _, err := s.Apply(ctx, setup); err != nil {
				b.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			base := fi.Size()
			batch := &delta.Batch{Root: root}
			flush := func() {
				if _, err := s.Apply(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch.Changes = batch.Changes[:0]
			}
			b.ResetTimer()
			for i := range b.N {
				e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "E"}
				if shape == "hub" {
					leaf := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Leaf"}
					e.Source, e.Target = root, leaf.ID
					batch.Changes = append(batch.Changes, delta.Change{ID: leaf.ID, Create: leaf})
				} else {
					e.Source, e.Target = nodes[i*7919%len(nodes)], nodes[i*104729%len(nodes)]
				}
				batch.Changes = append(batch.Changes, delta.Change{ID: e.ID, Create: e})
				if len(batch.Changes) >= 1000 {
					flush()
				}
			}
			if len(batch.Changes) > 0 {
				flush()
			}
			b.StopTimer()
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			if fi, err = os.Stat(path); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(fi.Size()-base)/float64(b.N), "bytes/edge")
		})
	}
}
