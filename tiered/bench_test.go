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
