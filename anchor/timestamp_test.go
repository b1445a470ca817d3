package anchor

import (
	"testing"
	"time"
)

func TestTimestampCanonical(t *testing.T) {
	for _, tm := range []time.Time{time.Unix(1700000000, 0), time.Unix(1700000000, 935_000_000), time.Unix(1<<35, 5), time.Unix(0xdf000000, 0)} {
		b, err := EncodeValue(tm)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != 0xc7 || b[1] != 12 {
			t.Fatalf("%v: not the 96-bit form: %x", tm, b)
		}
		var got time.Time
		if err := DecodeValue(b, &got); err != nil {
			t.Fatalf("%v: %v", tm, err)
		}
		if !got.Equal(tm) {
			t.Fatalf("%v decoded as %v", tm, got)
		}
	}
}
