package backend_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/backendtest/backends"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// bigEdges is the size of BenchmarkBigBatchEmbedded's batches.
const bigEdges = 100_000

// BenchmarkBigBatchEmbedded measures issue 9's big batches on bolt and
// SQLite (PostgreSQL has its own, in backend/postgres): a bulk load of
// 10^5 new nodes and edges in one batch, then the cascade delete of the
// hub they hang from, in one batch, each while a small writer commits one
// edge at a time on the same store. s/batch is the big Apply,
// small-commits the small writer's commits while it ran (none may fail),
// alloc-MB what the process allocated meanwhile.
//
//	go test -run '^$' -bench BigBatchEmbedded -benchtime 1x ./backend/
func BenchmarkBigBatchEmbedded(b *testing.B) {
	ctx := context.Background()
	for _, be := range backends.All() {
		if be.Name == "postgres" {
			continue
		}
		b.Run(be.Name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				s := be.Opener(nil)(b, b.TempDir())
				hub := backendtest.NewRootNode(b, s, anchor.Access{})
				small := backendtest.NewRootNode(b, s, anchor.Access{})
				load := &delta.Batch{Root: hub}
				for range bigEdges {
					n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: hub, Type: "Leaf"}
					e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: hub, Type: "Has", Source: hub, Target: n.ID}
					load.Changes = append(load.Changes, delta.Change{ID: n.ID, Create: n}, delta.Change{ID: e.ID, Create: e})
				}
				b.Run("BulkLoad", func(b *testing.B) {
					bigBeside(b, s, small, func() error { _, err := s.Apply(ctx, load); return err })
				})
				b.Run("HubDelete", func(b *testing.B) {
					bigBeside(b, s, small, func() error {
						_, err := s.Apply(ctx, &delta.Batch{Root: hub, Changes: []delta.Change{{ID: hub, Delete: true}}})
						return err
					})
				})
				rep, err := backend.Verify(ctx, s)
				if err != nil || !rep.Clean() {
					b.Fatalf("Verify: %v %v", err, rep)
				}
				s.Close()
			}
		})
	}
}

// bigBeside runs big while one walker commits small edges on root, and
// reports the big batch's time, the small commits and the allocation.
func bigBeside(b *testing.B, s backend.Store, root anchor.ID, big func() error) {
	ctx := context.Background()
	var stop atomic.Bool
	var commits atomic.Int64
	var smallErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			m := tiered.New(s, root, nil)
			n, err := m.Create(anchor.KindNode, "Note", nil)
			if err == nil {
				_, err = m.Connect(ctx, root, n, "Has", nil)
			}
			if err == nil {
				err = m.Commit(ctx)
			}
			if err != nil {
				smallErr = err
				return
			}
			commits.Add(1)
		}
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	err := big()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	stop.Store(true)
	wg.Wait()
	if err != nil || smallErr != nil {
		b.Fatalf("big batch: %v; small writer: %v", err, smallErr)
	}
	b.ReportMetric(took.Seconds(), "s/batch")
	b.ReportMetric(float64(commits.Load()), "small-commits")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "alloc-MB")
}
