package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/delta"
)

// BenchmarkBigBatch measures the big batches on PostgreSQL, each
// on a fresh schema, with a small writer on the same store and one on
// another store committing beside it (as in TestBigBatch*):
//
//	go test -run '^$' -bench BigBatch -benchtime 1x ./backend/postgres
//
// s/batch is the big batch's Apply, small-commits/s the small writers'
// commits (both stores together) while it ran; Idle is the small writers
// alone for 2 s.
func BenchmarkBigBatch(b *testing.B) {
	b.Run("Idle", func(b *testing.B) { // the small writers alone, for comparison
		for range b.N {
			b.StopTimer()
			s1, s2 := bigStores(b)
			took, small := during(b, s1, s2, func() error {
				b.StartTimer()
				defer b.StopTimer()
				time.Sleep(2 * time.Second)
				return nil
			})
			report(b, took, small)
		}
	})
	b.Run("HubDelete250k", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			s1, s2 := bigStores(b)
			root := backendtest.NewRootNode(b, s1, anchor.Access{})
			buildHub(b, s1, root, leafNodes(b, s1, root, leaves), 250_000, 25_000)
			took, small := during(b, s1, s2, func() error {
				b.StartTimer()
				defer b.StopTimer()
				_, err := s1.Apply(context.Background(), &delta.Batch{Root: root, Changes: []delta.Change{{ID: root, Delete: true}}})
				return err
			})
			report(b, took, small)
			require.Zero(b, backendtest.EdgeCount(b, s2, root))
		}
	})
	b.Run("BulkLoad100k", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			s1, s2 := bigStores(b)
			root := backendtest.NewRootNode(b, s1, anchor.Access{})
			batch := edgesBatch(root, root, leafNodes(b, s1, root, leaves), bulkEdges)
			took, small := during(b, s1, s2, func() error {
				b.StartTimer()
				defer b.StopTimer()
				_, err := s1.Apply(context.Background(), batch)
				return err
			})
			report(b, took, small)
			require.Equal(b, bulkEdges, backendtest.EdgeCount(b, s2, root))
		}
	})
}

func report(b *testing.B, took time.Duration, small int64) {
	b.ReportMetric(took.Seconds(), "s/batch")
	b.ReportMetric(float64(small)/took.Seconds(), "small-commits/s")
}
