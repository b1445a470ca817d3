package tiered_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/tiered"
)

// BenchmarkCommit measures commits/s through tiered.Memory on bbolt with
// fsync on: each operation is one walker creating a node, connecting it to
// a shared root, and committing. Walkers run concurrently, each with its
// own Memory.
func BenchmarkCommit(b *testing.B) {
	for _, group := range []bool{true, false} {
		for _, walkers := range []int{1, 8, 64} {
			name := fmt.Sprintf("group=%v/walkers=%d", group, walkers)
			b.Run(name, func(b *testing.B) {
				s, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), &bolt.Options{NoGroupCommit: !group})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				root := backendtest.NewRootNode(b, s, anchor.Access{All: anchor.Connect})
				ctx := context.Background()
				var next atomic.Int64
				var wg sync.WaitGroup
				b.ResetTimer()
				for range walkers {
					wg.Go(func() {
						m := tiered.New(s, anchor.NewID(), nil)
						for next.Add(1) <= int64(b.N) {
							n, err := m.Create(anchor.KindNode, "Item", map[string]any{"v": 1})
							if err == nil {
								_, err = m.Connect(ctx, root, n, "Has", nil)
							}
							if err == nil {
								err = m.Commit(ctx)
							}
							if err != nil {
								b.Error(err)
								return
							}
							m.Abort() // keep L1 small: each op is a fresh request
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
				if got := backendtest.EdgeCount(b, s, root); got != b.N {
					b.Fatalf("stored %d edges, want %d", got, b.N)
				}
			})
		}
	}
}

// BenchmarkLargeBatch measures one Commit of 10,000 new nodes and their
// edges to one root on bbolt (fsync on): the bulk-load path. delta.Apply
// writes in key order; bbolt pays O(k^2) copying for k unsorted inserts
// into a young tree, which made this 9x slower before.
func BenchmarkLargeBatch(b *testing.B) {
	const k = 10000
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		s, err := bolt.Open(filepath.Join(b.TempDir(), "bulk.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		root := backendtest.NewRootNode(b, s, anchor.Access{})
		m := tiered.New(s, root, nil)
		for i := range k {
			n, err := m.Create(anchor.KindNode, "Item", map[string]any{"i": i})
			if err == nil {
				_, err = m.Connect(ctx, root, n, "Has", nil)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := m.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if got := backendtest.EdgeCount(b, s, root); got != k {
			b.Fatalf("stored %d edges, want %d", got, k)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(2*k)*float64(b.N)/b.Elapsed().Seconds(), "anchors/s")
}
