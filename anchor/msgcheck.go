package anchor

import (
	"encoding/binary"
	"fmt"
)

// maxNesting bounds how deeply arrays and maps may nest in a decoded
// value. The msgpack decoder recurses once per level, so without a bound a
// few megabytes of nested array headers overflow the goroutine stack, a
// fatal error that no recover catches.
const maxNesting = 256

// checkMsgpack walks one msgpack value in b without recursing and without
// allocating per element, and refuses input that the msgpack decoder
// would choke on: nesting deeper than maxNesting, a container announcing
// more elements than bytes remain (the decoder allocates what a header
// announces before reading any element, so five bytes could ask for
// gigabytes), lengths past the end of b, the never-used byte 0xc1, or
// trailing bytes.
func checkMsgpack(b []byte) error {
	pos := 0
	pending := []int{1} // values still to read at each open nesting level
	total := 1          // sum of pending
	need := func(n int) error {
		if n < 0 || n > len(b)-pos {
			return fmt.Errorf("msgpack: %d bytes needed at offset %d, %d left", n, pos, len(b)-pos)
		}
		return nil
	}
	uint := func(size int) (int, error) {
		if err := need(size); err != nil {
			return 0, err
		}
		var v uint64
		switch size {
		case 1:
			v = uint64(b[pos])
		case 2:
			v = uint64(binary.BigEndian.Uint16(b[pos:]))
		case 4:
			v = uint64(binary.BigEndian.Uint32(b[pos:]))
		}
		pos += size
		return int(v), nil
	}
	for len(pending) > 0 {
		top := len(pending) - 1
		if pending[top] == 0 {
			pending = pending[:top]
			continue
		}
		pending[top]--
		total--
		if err := need(1); err != nil {
			return err
		}
		c := b[pos]
		pos++
		var skip, items int
		var err error
		switch {
		case c <= 0x7f || c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3:
		case c >= 0x80 && c <= 0x8f:
			items = 2 * int(c&0x0f)
		case c >= 0x90 && c <= 0x9f:
			items = int(c & 0x0f)
		case c >= 0xa0 && c <= 0xbf:
			skip = int(c & 0x1f)
		case c == 0xc4, c == 0xd9:
			skip, err = uint(1)
		case c == 0xc5, c == 0xda:
			skip, err = uint(2)
		case c == 0xc6, c == 0xdb:
			skip, err = uint(4)
		case c == 0xc7:
			skip, err = uint(1)
			skip++ // ext type byte
		case c == 0xc8:
			skip, err = uint(2)
			skip++
		case c == 0xc9:
			skip, err = uint(4)
			skip++
		case c == 0xca, c == 0xce, c == 0xd2:
			skip = 4
		case c == 0xcb, c == 0xcf, c == 0xd3:
			skip = 8
		case c == 0xcc, c == 0xd0:
			skip = 1
		case c == 0xcd, c == 0xd1:
			skip = 2
		case c >= 0xd4 && c <= 0xd8:
			skip = 1 + 1<<(c-0xd4) // type byte + 1, 2, 4, 8 or 16 data bytes
		case c == 0xdc:
			items, err = uint(2)
		case c == 0xdd:
			items, err = uint(4)
		case c == 0xde:
			items, err = uint(2)
			items *= 2
		case c == 0xdf:
			items, err = uint(4)
			items *= 2
		default: // 0xc1
			return fmt.Errorf("msgpack: invalid byte 0x%02x at offset %d", c, pos-1)
		}
		if err != nil {
			return err
		}
		if err := need(skip); err != nil {
			return err
		}
		pos += skip
		if items > 0 {
			if len(pending) >= maxNesting {
				return fmt.Errorf("msgpack: nesting deeper than %d at offset %d", maxNesting, pos)
			}
			total += items
			if total > len(b)-pos {
				return fmt.Errorf("msgpack: containers announce %d more values than the %d bytes left can hold", total, len(b)-pos)
			}
			pending = append(pending, items)
		}
	}
	if pos != len(b) {
		return fmt.Errorf("msgpack: %d trailing bytes after the value", len(b)-pos)
	}
	return nil
}
