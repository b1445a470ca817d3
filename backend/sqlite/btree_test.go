package sqlite_test

import (
	"encoding/binary"
	"math/rand/v2"
)

// payloadRanges returns the byte ranges of a SQLite database file that
// hold the local payload of B-tree cells: the records of table and index
// rows (WITHOUT ROWID tables are index B-trees). Damage there is invisible
// to SQLite's structural checks; only the rows' checksums can catch it.
// Pages that do not parse are skipped.
func payloadRanges(b []byte) [][2]int {
	if len(b) < 100 {
		return nil
	}
	ps := int(binary.BigEndian.Uint16(b[16:18]))
	if ps == 1 {
		ps = 65536
	}
	if ps < 512 {
		return nil
	}
	u := ps - int(b[20])
	var out [][2]int
	for base := 0; base+ps <= len(b); base += ps {
		h := base
		if base == 0 {
			h = 100
		}
		typ := b[h]
		if typ != 0x02 && typ != 0x0A && typ != 0x0D {
			continue // interior table pages hold no payload; others are not B-tree pages
		}
		ptrs := h + 8
		if typ == 0x02 {
			ptrs = h + 12
		}
		n := int(binary.BigEndian.Uint16(b[h+3:]))
		for k := range n {
			if ptrs+2*k+2 > base+ps {
				break
			}
			p := base + int(binary.BigEndian.Uint16(b[ptrs+2*k:]))
			if typ == 0x02 {
				p += 4
			}
			if p >= base+ps {
				continue
			}
			size, w := sqliteVarint(b[p:min(p+9, base+ps)])
			p += w
			if typ == 0x0D {
				_, w = sqliteVarint(b[p:min(p+9, base+ps)])
				p += w
			}
			local := localPayload(int(size), u, typ == 0x0D)
			if end := min(p+local, base+ps); p < end {
				out = append(out, [2]int{p, end})
			}
		}
	}
	return out
}

// localPayload is how much of a payload of size p stays on the B-tree page
// (SQLite file format, section 1.6), given the usable page size u.
func localPayload(p, u int, tableLeaf bool) int {
	x := (u-12)*64/255 - 23
	if tableLeaf {
		x = u - 35
	}
	if p <= x {
		return p
	}
	m := (u-12)*32/255 - 23
	if k := m + (p-m)%(u-4); k <= x {
		return k
	}
	return m
}

// sqliteVarint decodes SQLite's big-endian varint (1 to 9 bytes).
func sqliteVarint(b []byte) (uint64, int) {
	var v uint64
	for i, c := range b {
		if i == 8 {
			return v<<8 | uint64(c), 9
		}
		v = v<<7 | uint64(c&0x7f)
		if c&0x80 == 0 {
			return v, i + 1
		}
	}
	return v, max(len(b), 1)
}

// flipBytes changes 1 to 4 bytes of b at random: anywhere in the file, or
// (with ranges) only inside the given ranges.
func flipBytes(b []byte, rng *rand.Rand, ranges [][2]int) {
	total := 0
	for _, r := range ranges {
		total += r[1] - r[0]
	}
	for range 1 + rng.IntN(4) {
		pos := rng.IntN(len(b))
		if ranges != nil {
			k := rng.IntN(total)
			for _, r := range ranges {
				if k < r[1]-r[0] {
					pos = r[0] + k
					break
				}
				k -= r[1] - r[0]
			}
		}
		b[pos] ^= byte(1 + rng.IntN(255))
	}
}
