package tiered_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/tiered"
)

// l1Store returns a bolt store (fsync off: reads only) holding one node
// with the given number of fields, owned by the returned root.
func l1Store(b *testing.B, fields int) (backend.Store, anchor.ID, anchor.ID) {
	s, err := bolt.Open(filepath.Join(b.TempDir(), "l1.db"), &bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	root := anchor.NewID()
	m := tiered.New(s, root, nil)
	f := make(map[string]any, fields)
	for i := range fields {
		f[fmt.Sprintf("field%d", i)] = fmt.Sprintf("value number %d", i)
	}
	id, err := m.Create(anchor.KindNode, "Profile", f)
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Commit(context.Background()); err != nil {
		b.Fatal(err)
	}
	return s, root, id
}

// BenchmarkL1Hit measures Memory.Get of an anchor already in L1 (the
// walker re-reading what it loaded), by number of fields.
func BenchmarkL1Hit(b *testing.B) {
	for _, fields := range []int{0, 3, 8} {
		b.Run(fmt.Sprintf("fields=%d", fields), func(b *testing.B) {
			s, root, id := l1Store(b, fields)
			ctx := context.Background()
			m := tiered.New(s, root, nil)
			if _, err := m.Get(ctx, id); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Get(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkL1Miss measures Memory.Get of an anchor not in L1: a View, the
// driver's read and decode, the Read check and the L1 entry.
func BenchmarkL1Miss(b *testing.B) {
	for _, fields := range []int{0, 8} {
		b.Run(fmt.Sprintf("fields=%d", fields), func(b *testing.B) {
			s, root, id := l1Store(b, fields)
			ctx := context.Background()
			m := tiered.New(s, root, nil)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Get(ctx, id); err != nil {
					b.Fatal(err)
				}
				m.Forget(id)
			}
		})
	}
}
