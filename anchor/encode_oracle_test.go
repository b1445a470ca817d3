package anchor_test

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/anchorage-db/anchorage/anchor"
)

// The hand-written encoder (Marshal) must write exactly the bytes the
// reflection encoder it replaced (anchor.MarshalReflect) writes for every
// anchor: stored records compare equal across builds, and the checksum
// covers the same bytes.

// sameEncode fails t unless both encoders write the same bytes for a.
func sameEncode(t fataler, a *anchor.Anchor) {
	t.Helper()
	got, err := anchor.Marshal(a)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	want, err := anchor.MarshalReflect(a)
	if err != nil {
		t.Fatalf("MarshalReflect: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoders disagree on %+v:\nnew:        % x\nreflection: % x", a, got, want)
	}
}

func TestMarshalMatchesReflectOnAnchors(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) { sameEncode(t, genAnchor(t)) })
}

// TestMarshalMatchesReflectOnSizes covers the length forms the random
// anchors rarely reach: 16 or more map keys, array elements, grants and
// marks (16- and 32-bit headers), strings and values of 32, 256 and 65,536
// bytes or more.
func TestMarshalMatchesReflectOnSizes(t *testing.T) {
	id := func(i int) anchor.ID { return anchor.ID{byte(i), byte(i >> 8), 7} }
	for _, n := range []int{0, 15, 16, 31, 32, 255, 256, 65535, 65536, 70000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			a := &anchor.Anchor{ID: id(1), Kind: anchor.KindEdge, Owner: id(2), Type: strings.Repeat("t", n),
				Created: 1, Updated: 2, Deleted: 3, Restored: 4, SourceEpoch: 5, TargetEpoch: 6,
				Source: id(3), Target: id(4), Undirected: true, Access: anchor.Access{All: anchor.Read}}
			a.Fields = map[string]anchor.Field{
				strings.Repeat("n", min(n, 300)): {Value: bytes.Repeat([]byte{9}, n), Stamp: 7, Origin: id(5)},
				"ref":                            {Ref: &anchor.Ref{Size: int64(n) << 20, Sum: uint32(n)}, Stamp: 8},
			}
			for i := range min(n, 40) {
				a.Access.SetEntry(id(100+i), anchor.Write)
				if a.AccessStamps == nil {
					a.AccessStamps = map[anchor.ID]anchor.Mark{}
				}
				a.AccessStamps[id(200+i)] = anchor.Mark{At: anchor.HLC(i), Origin: id(i % 2)}
				a.Fields[fmt.Sprintf("f%02d", i)] = anchor.Field{Value: []byte{byte(i)}, Stamp: anchor.HLC(i)}
			}
			sameEncode(t, a)
		})
	}
}

// BenchmarkMarshal measures encoding one record, by number of fields,
// with the reflection encoder it replaced beside it (same run).
func BenchmarkMarshal(b *testing.B) {
	for _, fields := range []int{0, 8} {
		id, rec := benchRecord(b, fields)
		a, err := anchor.Unmarshal(id, rec)
		if err != nil {
			b.Fatal(err)
		}
		for _, enc := range []struct {
			name string
			fn   func(*anchor.Anchor) ([]byte, error)
		}{{"hand", anchor.Marshal}, {"reflect", anchor.MarshalReflect}} {
			b.Run(fmt.Sprintf("fields=%d/%s", fields, enc.name), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if _, err := enc.fn(a); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
