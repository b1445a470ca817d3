package anchor

import (
	"encoding/binary"
	"hash/crc32"
	"math"
	"slices"
)

// Marshal encodes a into the versioned, checksummed on-disk format:
// one version byte, a CRC-32C of the payload, then the msgpack payload
// (the layout of wire).
//
// It writes by hand, in one buffer sized up front, exactly the bytes the
// msgpack library writes for a wire by reflection (the encoder it
// replaced, kept in the tests as the oracle every random anchor is
// checked against): records written before and after compare equal, and
// every store's serial write path spends a fraction of the time it did.
// It never fails; the error is for the signature's stability.
func Marshal(a *Anchor) ([]byte, error) {
	b, refs := appendWire(make([]byte, headerLen, a.encodedSize()), a)
	b[0] = FormatVersion
	if refs {
		b[0] = FormatOutOfLine
	}
	binary.LittleEndian.PutUint32(b[1:headerLen], crc32.Checksum(b[headerLen:], castagnoli))
	return b, nil
}

// encodedSize is an upper bound of Marshal's output for a, so that the
// buffer is allocated once.
func (a *Anchor) encodedSize() int {
	n := headerLen + 3 + 64 + 4*(2+9) + 2*(2+3+16) + 5 + len(a.Type) + 5
	n += 4 + len(a.Access.Roots)*(1+2+16+2)
	n += 5 + len(a.AccessStamps)*(1+2+16+9+2+16)
	n += 2 * 5 // field and reference array headers
	for name, f := range a.Fields {
		n += 1 + 5 + len(name) + 9 + 2 + 16
		if f.Ref != nil {
			n += 9 + 5
		} else {
			n += 5 + len(f.Value)
		}
	}
	return n
}

// The append functions below write msgpack items, each in the form the
// msgpack library picks for the wire's Go types (see Marshal). They
// return the grown slice rather than store it through a pointer: a store
// to memory costs a write barrier while the collector runs.

// The msgpack codes Marshal writes.
const (
	mpNil     = 0xc0
	mpTrue    = 0xc3
	mpBin8    = 0xc4
	mpBin16   = 0xc5
	mpBin32   = 0xc6
	mpUint8   = 0xcc
	mpUint32  = 0xce
	mpUint64  = 0xcf
	mpInt64   = 0xd3
	mpStr8    = 0xd9
	mpStr16   = 0xda
	mpStr32   = 0xdb
	mpArray16 = 0xdc
	mpArray32 = 0xdd
	mpMap16   = 0xde
	mpMap32   = 0xdf
)

// appendLength writes a length with its fix code (fix | n, below limit)
// or its 16- or 32-bit form.
func appendLength(b []byte, n int, fix byte, limit int, c16, c32 byte) []byte {
	switch {
	case n < limit:
		return append(b, fix|byte(n))
	case n <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, c16), uint16(n))
	default:
		return binary.BigEndian.AppendUint32(append(b, c32), uint32(n))
	}
}

func appendMapLen(b []byte, n int) []byte { return appendLength(b, n, 0x80, 16, mpMap16, mpMap32) }
func appendArrayLen(b []byte, n int) []byte {
	return appendLength(b, n, 0x90, 16, mpArray16, mpArray32)
}

func appendStr(b []byte, s string) []byte {
	if len(s) >= 32 && len(s) < 256 {
		b = append(b, mpStr8, byte(len(s)))
	} else {
		b = appendLength(b, len(s), 0xa0, 32, mpStr16, mpStr32)
	}
	return append(b, s...)
}

// appendBin writes v, or nil for a nil slice (as the library does).
func appendBin(b, v []byte) []byte {
	switch {
	case v == nil:
		return append(b, mpNil)
	case len(v) < 256:
		b = append(b, mpBin8, byte(len(v)))
	default: // bin has no fix form
		b = appendLength(b, len(v), 0, 0, mpBin16, mpBin32)
	}
	return append(b, v...)
}

// appendID writes an ID as 16 bytes, or nil for the zero ID when zeroNil
// (the wire leaves an unset root or origin nil).
func appendID(b []byte, id ID, zeroNil bool) []byte {
	if zeroNil && id.IsZero() {
		return append(b, mpNil)
	}
	return append(append(b, mpBin8, 16), id[:]...)
}

func appendU8(b []byte, n uint8) []byte { return append(b, mpUint8, n) }

func appendU64(b []byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64(append(b, mpUint64), n)
}

// appendHLC writes the map key and the HLC h under it.
func appendHLC(b []byte, key string, h HLC) []byte {
	return appendU64(appendStr(b, key), uint64(h))
}

// appendWire writes a as Marshal's wire, the keys in the order of its
// declaration and those tagged omitempty only when set, and reports
// whether it holds out-of-line references.
func appendWire(b []byte, a *Anchor) (_ []byte, refs bool) {
	edge := a.Kind == KindEdge
	var nameBuf [8]string // the names of up to 8 fields stay off the heap
	names := nameBuf[:0]
	var nrefs int
	for name, f := range a.Fields {
		names = append(names, name)
		if f.Ref != nil {
			nrefs++
		}
	}
	slices.Sort(names)
	nfields := len(names) - nrefs
	keys := 7 // i k o a t c u
	for _, set := range [...]bool{len(a.Access.Roots) > 0, a.Deleted != 0, len(a.AccessStamps) > 0, edge, edge,
		a.Undirected, nfields > 0, a.Restored != 0, edge && a.SourceEpoch != 0, edge && a.TargetEpoch != 0, nrefs > 0} {
		if set {
			keys++
		}
	}
	b = appendMapLen(b, keys)
	b = appendID(appendStr(b, "i"), a.ID, false)
	b = appendU8(appendStr(b, "k"), uint8(a.Kind))
	b = appendID(appendStr(b, "o"), a.Owner, false)
	b = appendU8(appendStr(b, "a"), uint8(a.Access.All))
	if len(a.Access.Roots) > 0 {
		b = appendArrayLen(appendStr(b, "r"), len(a.Access.Roots))
		for _, root := range SortedIDs(a.Access.Roots) {
			b = appendID(appendArrayLen(b, 2), root, false)
			b = appendU8(b, uint8(a.Access.Roots[root]))
		}
	}
	b = appendStr(appendStr(b, "t"), a.Type)
	b = appendHLC(b, "c", a.Created)
	b = appendHLC(b, "u", a.Updated)
	if a.Deleted != 0 {
		b = appendHLC(b, "d", a.Deleted)
	}
	if len(a.AccessStamps) > 0 {
		b = appendArrayLen(appendStr(b, "am"), len(a.AccessStamps))
		for _, root := range SortedIDs(a.AccessStamps) {
			m := a.AccessStamps[root]
			b = appendID(appendArrayLen(b, 3), root, true)
			b = appendID(appendU64(b, uint64(m.At)), m.Origin, true)
		}
	}
	if edge {
		b = appendID(appendStr(b, "s"), a.Source, false)
		b = appendID(appendStr(b, "g"), a.Target, false)
	}
	if a.Undirected {
		b = append(appendStr(b, "n"), mpTrue)
	}
	if nfields > 0 {
		b = appendArrayLen(appendStr(b, "f"), nfields)
		for _, name := range names {
			f := a.Fields[name]
			if f.Ref != nil {
				continue
			}
			b = appendBin(appendStr(appendArrayLen(b, 4), name), f.Value)
			b = appendID(appendU64(b, uint64(f.Stamp)), f.Origin, true)
		}
	}
	if a.Restored != 0 {
		b = appendHLC(b, "re", a.Restored)
	}
	if edge && a.SourceEpoch != 0 {
		b = appendHLC(b, "se", a.SourceEpoch)
	}
	if edge && a.TargetEpoch != 0 {
		b = appendHLC(b, "te", a.TargetEpoch)
	}
	if nrefs > 0 {
		b = appendArrayLen(appendStr(b, "x"), nrefs)
		for _, name := range names {
			f := a.Fields[name]
			if f.Ref == nil {
				continue
			}
			b = appendStr(appendArrayLen(b, 5), name)
			b = binary.BigEndian.AppendUint64(append(b, mpInt64), uint64(f.Ref.Size))
			b = binary.BigEndian.AppendUint32(append(b, mpUint32), f.Ref.Sum)
			b = appendID(appendU64(b, uint64(f.Stamp)), f.Origin, true)
		}
	}
	return b, nrefs > 0
}
