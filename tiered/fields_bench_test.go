package tiered_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// BenchmarkManyFields sets n fields on one stored anchor, asks Dirty, and
// commits, for n from 1,000 to 50,000 (fields per anchor raised from the
// default 4,096 to allow it). Each phase is reported per field: flat
// across n when the cost is linear (issue 9: 50,000 fields took 7 s to
// set, 5 s for Dirty and 7 s to commit when the set list was a slice).
func BenchmarkManyFields(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{1_000, 5_000, 50_000} {
		b.Run(fmt.Sprint("fields=", n), func(b *testing.B) {
			s, err := bolt.Open(filepath.Join(b.TempDir(), "fields.db"), &bolt.Options{NoSync: true, Limits: delta.Limits{MaxFields: 100_000}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			root := anchor.NewID()
			m := tiered.New(s, root, nil)
			id, err := m.Create(anchor.KindNode, "Wide", nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			var set, dirty, commit time.Duration
			for i := 0; b.Loop(); i++ {
				w := tiered.New(s, root, nil)
				t0 := time.Now()
				for f := range n {
					if err := w.Set(ctx, id, fmt.Sprint("f", f), i); err != nil {
						b.Fatal(err)
					}
				}
				t1 := time.Now()
				if w.Dirty() != 1 {
					b.Fatal("one anchor changed")
				}
				t2 := time.Now()
				if err := w.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				set, dirty, commit = set+t1.Sub(t0), dirty+time.Since(t1)-time.Since(t2), commit+time.Since(t2)
			}
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N) / float64(n) }
			b.ReportMetric(per(set), "set-ns/field")
			b.ReportMetric(per(dirty), "dirty-ns/field")
			b.ReportMetric(per(commit), "commit-ns/field")
		})
	}
}
