package anchor_test

import (
	"fmt"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
)

// benchRecord is the record of a node shaped like tiered's l1Store makes:
// fields "field<i>" holding short strings, stamped as a store stamps them.
func benchRecord(b *testing.B, fields int) (anchor.ID, []byte) {
	root := anchor.NewID()
	a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Profile",
		Created: anchor.MakeHLC(1700000000000, 1), Updated: anchor.MakeHLC(1700000000000, 1)}
	for i := range fields {
		if err := a.SetField(fmt.Sprintf("field%d", i), fmt.Sprintf("value number %d", i)); err != nil {
			b.Fatal(err)
		}
		f := a.Fields[fmt.Sprintf("field%d", i)]
		f.Stamp = a.Created
		a.Fields[fmt.Sprintf("field%d", i)] = f
	}
	return a.ID, mustMarshal(b, a)
}

// BenchmarkUnmarshal measures decoding one record, by number of fields:
// the decode half of an L1 miss (tiered's BenchmarkL1Miss).
func BenchmarkUnmarshal(b *testing.B) {
	for _, fields := range []int{0, 8} {
		b.Run(fmt.Sprintf("fields=%d", fields), func(b *testing.B) {
			id, rec := benchRecord(b, fields)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := anchor.Unmarshal(id, rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
