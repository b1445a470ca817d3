package anchor

import (
	"fmt"
	"hash/crc32"
)

// OutOfLine is the size from which a store keeps a field value out of the
// anchor's record, in a row of its own: the record then holds a Ref (size
// and checksum), so a write that leaves the value alone neither reads nor
// rewrites it.
const OutOfLine = 64 << 10

// Ref stands for a field value a store keeps out of line and has not read.
// A Field with a non-nil Ref has a nil Value: a write transaction's Anchor
// returns fields so, and PutAnchor given such a field keeps the stored
// value as it is. Readers (Views) always return loaded values.
type Ref struct {
	Size int64  // length of the value in bytes
	Sum  uint32 // CRC-32C of the value, where the store keeps one (else 0)
}

// ValueSum returns the CRC-32C of a field value, as a Ref holds it.
func ValueSum(v []byte) uint32 { return crc32.Checksum(v, castagnoli) }

// Check returns an error wrapping ErrCorrupt unless v is the value r
// stands for.
func (r Ref) Check(v []byte) error {
	if int64(len(v)) != r.Size {
		return fmt.Errorf("%w: out-of-line value of %d bytes, the record says %d", ErrCorrupt, len(v), r.Size)
	}
	if got := ValueSum(v); got != r.Sum {
		return fmt.Errorf("%w: out-of-line value checksum %08x, want %08x", ErrCorrupt, got, r.Sum)
	}
	return nil
}

// Unloaded reports whether a holds a field whose value was not read (see Ref).
func (a *Anchor) Unloaded() bool {
	for _, f := range a.Fields {
		if f.Ref != nil {
			return true
		}
	}
	return false
}

// SplitOutOfLine returns the record to store for a: a shallow copy whose
// fields of at least OutOfLine bytes become references (Value nil, Ref
// set), and the values to store out of line, by field name. Fields that
// already are references (not read, so unchanged) stay references and are
// not returned. a itself is not modified.
func SplitOutOfLine(a *Anchor) (head *Anchor, values map[string][]byte) {
	for name, f := range a.Fields {
		if f.Ref == nil && len(f.Value) >= OutOfLine {
			if values == nil {
				values = make(map[string][]byte)
			}
			values[name] = f.Value
		}
	}
	if values == nil {
		return a, nil
	}
	c := *a
	c.Fields = make(map[string]Field, len(a.Fields))
	for name, f := range a.Fields {
		if v, ok := values[name]; ok {
			f = Field{Stamp: f.Stamp, Origin: f.Origin, Ref: &Ref{Size: int64(len(v)), Sum: ValueSum(v)}}
		}
		c.Fields[name] = f
	}
	return &c, values
}
