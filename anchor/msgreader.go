package anchor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The reader below decodes the msgpack types wire holds exactly as
// msgpack v5's reflection decoder does (decode.go says why), over a byte
// slice: each function says which msgpack one it mirrors.

// decodeSlice decodes an array of structs into s as msgpack's
// decodeSliceValue does: see resize, then each element is decoded over
// the one s holds.
func decodeSlice[T any](r *reader, s []T, decode func(*T) error) ([]T, error) {
	s, err := resize(r, s)
	for i := 0; err == nil && i < len(s); i++ {
		err = decode(&s[i])
	}
	return s, err
}

// resize reads an array header and resizes s for the array's elements as
// msgpack's decodeSliceValue does: nil empties s; otherwise s takes the
// array's length, keeping the elements it already has (a repeated key
// decodes over the earlier elements, and a struct given as a map changes
// only the fields it names), new ones zero.
func resize[T any](r *reader, s []T) ([]T, error) {
	c, err := r.code()
	if err != nil {
		return s, err
	}
	n, err := r.arrayLen(c)
	switch {
	case err != nil:
		return s, err
	case n < 0:
		return nil, nil
	case n <= cap(s):
		s = s[:n]
	default:
		// Elements past len(s) but within cap(s) are kept too, as
		// msgpack does (it reslices to cap before growing). The
		// capacities differ from msgpack's (its elements are wire's
		// types), but no element past the longest length so far was
		// ever written, so both hold zero there.
		s = append(s[:cap(s)], make([]T, n-cap(s))...)
	}
	return s, nil
}

var errArrayStruct = errors.New("msgpack: number of fields in array-encoded struct has changed")

// reader reads msgpack values from b, never past its end.
type reader struct {
	b   []byte
	pos int
}

func (r *reader) code() (byte, error) {
	if r.pos >= len(r.b) {
		return 0, io.ErrUnexpectedEOF
	}
	c := r.b[r.pos]
	r.pos++
	return c, nil
}

// next returns the next n bytes, capped so that an append to them cannot
// run into what follows.
func (r *reader) next(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.pos {
		return nil, io.ErrUnexpectedEOF
	}
	s := r.b[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return s, nil
}

// length reads an n-byte big-endian length.
func (r *reader) length(n int) (int, error) {
	s, err := r.next(n)
	if err != nil {
		return 0, err
	}
	switch n {
	case 1:
		return int(s[0]), nil
	case 2:
		return int(binary.BigEndian.Uint16(s)), nil
	}
	return int(binary.BigEndian.Uint32(s)), nil
}

// decodeStruct reads one struct as msgpack's decodeStructValue does: a
// map whose keys name fields (keys lists them in field order; other keys'
// values are skipped), or an array of all the fields in order. field
// decodes field i. zero reports a nil map or an empty array, which set
// the whole struct to its zero value.
func (r *reader) decodeStruct(keys []string, field func(i int) error) (zero bool, err error) {
	c, err := r.code()
	if err != nil {
		return false, err
	}
	var n int
	switch {
	case c == 0xc0:
		return true, nil
	case c >= 0x80 && c <= 0x8f:
		n = int(c & 0x0f)
	case c == 0xde:
		n, err = r.length(2)
	case c == 0xdf:
		n, err = r.length(4)
	default:
		n, err := r.arrayLen(c)
		switch {
		case err != nil:
			return false, fmt.Errorf("msgpack: invalid code=%x decoding map length", c)
		case n == 0:
			return true, nil
		case n != len(keys):
			return false, errArrayStruct
		}
		for i := range keys {
			if err := field(i); err != nil {
				return false, err
			}
		}
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for range n {
		k, err := r.bytes() // as msgpack's decodeStringTemp: nil is ""
		if err != nil {
			return false, err
		}
		i := 0
		for i < len(keys) && keys[i] != string(k) {
			i++
		}
		if i == len(keys) {
			err = r.skip()
		} else {
			err = field(i)
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// arrayLen decodes an array header as msgpack's arrayLen does; -1 for nil.
func (r *reader) arrayLen(c byte) (int, error) {
	switch {
	case c == 0xc0:
		return -1, nil
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f), nil
	case c == 0xdc:
		return r.length(2)
	case c == 0xdd:
		return r.length(4)
	}
	return 0, fmt.Errorf("msgpack: invalid code=%x decoding array length", c)
}

// bytes decodes a string or binary (msgpack reads either into a []byte
// or a string) as a sub-slice of the payload: nil for msgpack nil, never
// nil otherwise.
func (r *reader) bytes() ([]byte, error) {
	c, err := r.code()
	if err != nil {
		return nil, err
	}
	var n int
	switch {
	case c == 0xc0:
		return nil, nil
	case c >= 0xa0 && c <= 0xbf:
		n = int(c & 0x1f)
	case c == 0xd9, c == 0xc4:
		n, err = r.length(1)
	case c == 0xda, c == 0xc5:
		n, err = r.length(2)
	case c == 0xdb, c == 0xc6:
		n, err = r.length(4)
	default:
		return nil, fmt.Errorf("msgpack: invalid code=%x decoding string/bytes length", c)
	}
	if err != nil {
		return nil, err
	}
	return r.next(n)
}

// int decodes any msgpack integer (or nil, as 0) as msgpack's
// DecodeInt64 does: signed codes sign-extend, unsigned ones do not, and
// a uint64 keeps its bits.
func (r *reader) int() (int64, error) {
	c, err := r.code()
	if err != nil {
		return 0, err
	}
	if c <= 0x7f || c >= 0xe0 {
		return int64(int8(c)), nil
	}
	var s []byte
	switch c {
	case 0xc0:
		return 0, nil
	case 0xcc, 0xd0:
		s, err = r.next(1)
	case 0xcd, 0xd1:
		s, err = r.next(2)
	case 0xce, 0xd2:
		s, err = r.next(4)
	case 0xcf, 0xd3:
		s, err = r.next(8)
	default:
		return 0, fmt.Errorf("msgpack: invalid code=%x decoding int64", c)
	}
	if err != nil {
		return 0, err
	}
	switch c {
	case 0xcc:
		return int64(s[0]), nil
	case 0xd0:
		return int64(int8(s[0])), nil
	case 0xcd:
		return int64(binary.BigEndian.Uint16(s)), nil
	case 0xd1:
		return int64(int16(binary.BigEndian.Uint16(s))), nil
	case 0xce:
		return int64(binary.BigEndian.Uint32(s)), nil
	case 0xd2:
		return int64(int32(binary.BigEndian.Uint32(s))), nil
	}
	return int64(binary.BigEndian.Uint64(s)), nil
}

// uint decodes an integer as msgpack's DecodeUint64 does: the int64
// value's bits (a negative int8 becomes a huge uint64, not an error).
func (r *reader) uint() (uint64, error) {
	n, err := r.int()
	return uint64(n), err
}

func (r *reader) hlc() (HLC, error) {
	n, err := r.uint()
	return HLC(n), err
}

// bool decodes true, false or nil (false), as msgpack's DecodeBool does.
func (r *reader) bool() (bool, error) {
	c, err := r.code()
	if err != nil {
		return false, err
	}
	switch c {
	case 0xc0, 0xc2:
		return false, nil
	case 0xc3:
		return true, nil
	}
	return false, fmt.Errorf("msgpack: invalid code=%x decoding bool", c)
}

// skip steps over one value of any type, as msgpack's Skip does (the
// sizes are readHead's, which checkMsgpack walked), without recursing.
func (r *reader) skip() error {
	for pending := 1; pending > 0; pending-- {
		h, err := readHead(r.b, r.pos)
		if err != nil {
			return err
		}
		r.pos += h.size + h.payload
		pending += h.items
	}
	return nil
}
