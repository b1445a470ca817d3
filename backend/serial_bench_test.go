package backend_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/delta"
)

// BenchmarkGroupSerial measures the committer's serial section alone, on
// one goroutine: one transaction of a 64-write group of connect batches
// (fsync off), per write. "bare" writes the keys (bareRun); "apply"
// runs delta.Apply on the driver's transaction as the engine did before
// the group read cache; "apply+cache" runs it as the engine does now
// (per-group read cache, no second validation). Sub-benchmarks in one
// run are comparable; bare is the baseline.
func BenchmarkGroupSerial(b *testing.B) {
	const group = 64
	s, _ := committerStore(b, false)
	root := backendtest.NewRootNode(b, s, anchor.Access{All: anchor.Connect})
	d := s.Driver()
	walkers := make([]anchor.ID, group)
	for i := range walkers {
		walkers[i] = anchor.NewID()
	}
	batches := func() []delta.Write {
		ws := make([]delta.Write, group)
		for i := range ws {
			ws[i] = connectBatch(walkers[i], root)
		}
		return ws
	}
	var stamp atomic.Uint64
	stamp.Store(uint64(backendtest.Meta(b, s).HLC) + 1<<40)
	apply := func(cache bool) func([]delta.Write) error {
		return func(ws []delta.Write) error {
			tx, err := d.Begin(context.Background())
			if err != nil {
				return err
			}
			defer tx.Rollback()
			var t delta.Tx = tx
			if cache {
				t = backend.GroupTx(tx)
			}
			for _, w := range ws {
				if _, err := delta.Apply(t, delta.Env{Stamp: anchor.HLC(stamp.Add(1)), Validated: cache}, w); err != nil {
					return err
				}
			}
			return tx.Commit()
		}
	}
	for _, mode := range []struct {
		name string
		run  func([]delta.Write) error
	}{{"bare", bareRun(d, &stamp)}, {"apply", apply(false)}, {"apply+cache", apply(true)}} {
		b.Run(mode.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				ws := batches()
				b.StartTimer()
				if err := mode.run(ws); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*group), "ns/write")
		})
	}
}
