package backend_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest/backends"
	"github.com/anchorage-db/anchorage/delta"
)

// BenchmarkBigField measures issue 9's "a small change rewrites a large
// field": in the same run, on every backend, a small Set of one field and
// a Connect (an edge from the root) on a node without and on a node with
// a 64 MiB field. Each iteration does the operation once on each node;
// it reports both times (ms) and their ratio (big/small):
//
//	go test -run '^$' -bench BigField -benchtime 10x ./backend/
func BenchmarkBigField(b *testing.B) {
	const size = 64 << 20
	ctx := context.Background()
	for _, be := range backends.All() {
		b.Run(be.Name, func(b *testing.B) {
			s, err := backend.New(be.Driver(b, b.TempDir()), be.Name, &backend.Options{Limits: delta.Limits{MaxValueBytes: 2 * size}})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			apply := func(w *delta.Batch) {
				if _, err := s.Apply(ctx, w); err != nil {
					b.Fatal(err)
				}
			}
			root := anchor.NewID()
			apply(&delta.Batch{Changes: []delta.Change{{ID: root, Create: &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root"}}}})
			blob, err := anchor.EncodeValue(bytes.Repeat([]byte("anchorage"), size/9))
			if err != nil {
				b.Fatal(err)
			}
			node := func(fields map[string]anchor.Field) anchor.ID {
				n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Doc", Fields: fields}
				apply(&delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}}})
				return n.ID
			}
			small := node(map[string]anchor.Field{"n": {Value: []byte{0}}})
			big := node(map[string]anchor.Field{"n": {Value: []byte{0}}, "blob": {Value: blob}})

			ops := []struct {
				name string
				op   func(id anchor.ID, i int) *delta.Batch
			}{
				{"Set", func(id anchor.ID, i int) *delta.Batch {
					v, _ := anchor.EncodeValue(i + 1)
					return &delta.Batch{Root: root, Changes: []delta.Change{{ID: id, Set: map[string][]byte{"n": v}}}}
				}},
				{"Connect", func(id anchor.ID, _ int) *delta.Batch {
					e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "Link", Source: root, Target: id}
					return &delta.Batch{Root: root, Changes: []delta.Change{{ID: e.ID, Create: e}}}
				}},
			}
			for _, o := range ops {
				b.Run(o.name, func(b *testing.B) {
					var tSmall, tBig time.Duration
					i := 0
					for b.Loop() {
						for _, c := range []struct {
							id anchor.ID
							t  *time.Duration
						}{{small, &tSmall}, {big, &tBig}} {
							w := o.op(c.id, i)
							start := time.Now()
							apply(w)
							*c.t += time.Since(start)
						}
						i++
					}
					ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1e3 / float64(i) }
					b.ReportMetric(ms(tSmall), "ms-small")
					b.ReportMetric(ms(tBig), "ms-64MiB")
					b.ReportMetric(float64(tBig)/float64(tSmall), "ratio")
				})
			}
		})
	}
}
