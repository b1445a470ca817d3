package anchor

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"sort"
)

// maxNesting bounds how deeply arrays and maps may nest in a decoded
// value. The msgpack decoder recurses once per level, so without a bound a
// few megabytes of nested array headers overflow the goroutine stack, a
// fatal error that no recover catches.
const maxNesting = 256

// head describes the msgpack header at the start of one value.
type head struct {
	size    int  // header bytes
	payload int  // bytes of payload after the header (strings, binaries, numbers)
	items   int  // child values that follow (a map of n entries has 2n)
	isMap   bool // the children are key/value pairs
	ext     int  // for extensions: offset of the data from the value's start (0: not an extension)
}

// readHead parses the header of the value at b[pos:].
func readHead(b []byte, pos int) (head, error) {
	if pos >= len(b) {
		return head{}, fmt.Errorf("msgpack: value expected at offset %d, input ends", pos)
	}
	c := b[pos]
	length := func(n int) (int, error) {
		if pos+1+n > len(b) {
			return 0, fmt.Errorf("msgpack: %d-byte length at offset %d runs past the end", n, pos+1)
		}
		switch n {
		case 1:
			return int(b[pos+1]), nil
		case 2:
			return int(binary.BigEndian.Uint16(b[pos+1:])), nil
		}
		return int(binary.BigEndian.Uint32(b[pos+1:])), nil
	}
	var h head
	var err error
	h.size = 1
	switch {
	case c <= 0x7f || c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
	case c >= 0x80 && c <= 0x8f:
		h.items, h.isMap = 2*int(c&0x0f), true
	case c >= 0x90 && c <= 0x9f:
		h.items = int(c & 0x0f)
	case c >= 0xa0 && c <= 0xbf:
		h.payload = int(c & 0x1f)
	case c == 0xc4, c == 0xd9:
		h.size = 2
		h.payload, err = length(1)
	case c == 0xc5, c == 0xda:
		h.size = 3
		h.payload, err = length(2)
	case c == 0xc6, c == 0xdb:
		h.size = 5
		h.payload, err = length(4)
	case c == 0xc7:
		h.size, h.ext = 3, 3 // length and ext type
		h.payload, err = length(1)
	case c == 0xc8:
		h.size, h.ext = 4, 4
		h.payload, err = length(2)
	case c == 0xc9:
		h.size, h.ext = 6, 6
		h.payload, err = length(4)
	case c == 0xca, c == 0xce, c == 0xd2:
		h.payload = 4
	case c == 0xcb, c == 0xcf, c == 0xd3:
		h.payload = 8
	case c == 0xcc, c == 0xd0:
		h.payload = 1
	case c == 0xcd, c == 0xd1:
		h.payload = 2
	case c >= 0xd4 && c <= 0xd8:
		h.payload = 1 + 1<<(c-0xd4) // ext type byte + 1, 2, 4, 8 or 16 data bytes
		h.ext = 2
	case c == 0xdc:
		h.size = 3
		h.items, err = length(2)
	case c == 0xdd:
		h.size = 5
		h.items, err = length(4)
	case c == 0xde:
		h.size = 3
		h.items, err = length(2)
		h.items, h.isMap = 2*h.items, true
	case c == 0xdf:
		h.size = 5
		h.items, err = length(4)
		h.items, h.isMap = 2*h.items, true
	default: // 0xc1
		return h, fmt.Errorf("msgpack: invalid byte 0x%02x at offset %d", c, pos)
	}
	if err != nil {
		return h, err
	}
	if h.payload > len(b)-pos-h.size {
		return h, fmt.Errorf("msgpack: %d payload bytes at offset %d run past the end", h.payload, pos)
	}
	return h, nil
}

// checkMsgpack walks one msgpack value in b without recursing and without
// allocating per element, and refuses input that the msgpack decoder
// would choke on: nesting deeper than maxNesting, a container announcing
// more elements than bytes remain (the decoder allocates what a header
// announces before reading any element, so five bytes could ask for
// gigabytes), lengths past the end of b, the never-used byte 0xc1, or
// trailing bytes.
func checkMsgpack(b []byte) error {
	pos := 0
	// Values still to read at each open nesting level. Records nest three
	// deep (the record, its field list, a field), so a small array on the
	// stack spares Unmarshal allocations; deeper values grow it on the heap.
	var levels [8]int
	pending := append(levels[:0], 1)
	total := 1 // sum of pending
	for len(pending) > 0 {
		top := len(pending) - 1
		if pending[top] == 0 {
			pending = pending[:top]
			continue
		}
		pending[top]--
		total--
		h, err := readHead(b, pos)
		if err != nil {
			return err
		}
		// msgpack's DecodeMapLen steps over an extension header and reads
		// a map header from its data, so an extension whose data starts
		// like map16/map32 would announce entries this walk never counts.
		// EncodeValue writes timestamps (the one extension it makes) in a
		// form that never starts so.
		if d := pos + h.ext; h.ext > 0 && d < len(b) && (b[d] == 0xde || b[d] == 0xdf) {
			return fmt.Errorf("msgpack: extension at offset %d holds what the decoder would read as a map header", pos)
		}
		pos += h.size + h.payload
		if h.items > 0 {
			if len(pending) >= maxNesting {
				return fmt.Errorf("msgpack: nesting deeper than %d at offset %d", maxNesting, pos)
			}
			total += h.items
			if total > len(b)-pos {
				return fmt.Errorf("msgpack: containers announce %d more values than the %d bytes left can hold", total, len(b)-pos)
			}
			pending = append(pending, h.items)
		}
	}
	if pos != len(b) {
		return fmt.Errorf("msgpack: %d trailing bytes after the value", len(b)-pos)
	}
	return nil
}

// canonical rewrites one well-formed msgpack value (as checkMsgpack
// accepts) with every map's entries sorted by their encoded keys, so equal
// values encode to equal bytes whatever Go's map iteration order was.
func canonical(b []byte) []byte {
	out, _ := appendCanonical(nil, b, 0)
	return out
}

func appendCanonical(dst, b []byte, pos int) ([]byte, int) {
	h, _ := readHead(b, pos) // b was checked
	end := pos + h.size + h.payload
	if ts, ok := timestamp96(b[pos:end]); ok {
		return append(dst, ts...), end
	}
	dst = append(dst, b[pos:end]...)
	if !h.isMap {
		for range h.items {
			dst, end = appendCanonical(dst, b, end)
		}
		return dst, end
	}
	type entry struct{ key, kv []byte }
	entries := make([]entry, h.items/2)
	for i := range entries {
		kv, next := appendCanonical(nil, b, end)
		keyLen := len(kv)
		kv, next = appendCanonical(kv, b, next)
		entries[i] = entry{key: kv[:keyLen], kv: kv}
		end = next
	}
	sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i].key, entries[j].key) < 0 })
	for _, e := range entries {
		dst = append(dst, e.kv...)
	}
	return dst, end
}

// timestamp96 rewrites a msgpack timestamp (extension -1) of the 32- or
// 64-bit form into the 96-bit form (nanoseconds uint32, seconds int64), so
// one instant has one encoding, and the data never starts with a byte that
// checkMsgpack refuses (nanoseconds < 10^9 keep the first byte <= 0x3b).
func timestamp96(v []byte) ([]byte, bool) {
	var sec int64
	var nsec uint32
	switch {
	case len(v) == 6 && v[0] == 0xd6 && v[1] == 0xff:
		sec = int64(binary.BigEndian.Uint32(v[2:]))
	case len(v) == 10 && v[0] == 0xd7 && v[1] == 0xff:
		x := binary.BigEndian.Uint64(v[2:])
		nsec, sec = uint32(x>>34), int64(x&(1<<34-1))
	default:
		return nil, false
	}
	out := make([]byte, 15)
	out[0], out[1], out[2] = 0xc7, 12, 0xff
	binary.BigEndian.PutUint32(out[3:], nsec)
	binary.BigEndian.PutUint64(out[7:], uint64(sec))
	return out, true
}
