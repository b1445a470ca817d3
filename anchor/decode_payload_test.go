package anchor_test

import (
	"encoding/binary"
	"testing"

	"pgregory.net/rapid"

	"github.com/anchorage-db/anchorage/anchor"
)

// TestUnmarshalMatchesReflectOnPayloads compares the decoders on random
// payloads shaped like records but encoded every way msgpack allows (see
// payloadGen), sealed with a valid header.
func TestUnmarshalMatchesReflectOnPayloads(t *testing.T) {
	accepted, total := 0, 0
	rapid.Check(t, func(t *rapid.T) {
		g := payloadGen{t: t, id: genID(t, "key")}
		g.record()
		version := rapid.SampledFrom([]byte{anchor.FormatVersion, anchor.FormatOutOfLine}).Draw(t, "version")
		total++
		if sameDecode(t, g.id, seal(version, g.b)) {
			accepted++
		}
	})
	t.Logf("%d of %d random payloads decoded", accepted, total)
	if accepted < total/10 {
		t.Fatalf("only %d of %d random payloads decoded: the comparison compared mostly failures", accepted, total)
	}
}

// payloadGen writes a random record payload: a map (sometimes an array,
// or nil) of wire's keys, repeated or unknown keys among them, each
// value in any encoding msgpack reads into the field's type, or now and
// then one it does not.
type payloadGen struct {
	t  *rapid.T
	id anchor.ID
	b  []byte
}

// draw returns a number in [0, n). rapid favours the ends of a range
// (0 and 1 above all), so the choices below list the common case first
// and test rare ones with chance.
func (g *payloadGen) draw(n int, label string) int { return rapid.IntRange(0, n-1).Draw(g.t, label) }

// chance reports true about once in n (n >= 4): a value from the middle
// of the range, which rapid draws about uniformly.
func (g *payloadGen) chance(n int, label string) bool { return g.draw(n, label) == n/2 }

// header writes a map, array, string or binary header of n by one of the
// encodings that can hold it.
func (g *payloadGen) header(fix, max byte, c16, c32 byte, n int) {
	switch g.draw(3, "header") {
	case 0:
		if n <= int(max-fix) {
			g.b = append(g.b, fix+byte(n))
			return
		}
		fallthrough
	case 1:
		g.b = append(g.b, c16, byte(n>>8), byte(n))
	default:
		g.b = append(g.b, c32)
		g.b = binary.BigEndian.AppendUint32(g.b, uint32(n))
	}
}

func (g *payloadGen) mapHeader(n int)   { g.header(0x80, 0x8f, 0xde, 0xdf, n) }
func (g *payloadGen) arrayHeader(n int) { g.header(0x90, 0x9f, 0xdc, 0xdd, n) }

// str writes s as a string or a binary, in any width that holds it.
func (g *payloadGen) str(s []byte) {
	switch g.draw(5, "str code") {
	case 0:
		if len(s) < 32 {
			g.b = append(g.b, 0xa0|byte(len(s)))
			break
		}
		fallthrough
	case 1:
		if len(s) < 256 {
			g.b = append(g.b, rapid.SampledFrom([]byte{0xd9, 0xc4}).Draw(g.t, "8"), byte(len(s)))
			break
		}
		fallthrough
	case 2:
		g.b = append(g.b, rapid.SampledFrom([]byte{0xda, 0xc5}).Draw(g.t, "16"), byte(len(s)>>8), byte(len(s)))
	default:
		g.b = append(g.b, rapid.SampledFrom([]byte{0xdb, 0xc6}).Draw(g.t, "32"))
		g.b = binary.BigEndian.AppendUint32(g.b, uint32(len(s)))
	}
	g.b = append(g.b, s...)
}

// wrong writes, rarely, a value of a type no field of wire reads (so the
// decoders must both fail) and reports whether it did.
func (g *payloadGen) wrong() bool {
	if !g.chance(50, "wrong") {
		return false
	}
	g.any(0)
	return true
}

// bytes writes an ID-like byte string: nil, empty, 16 bytes (often the
// key), or another length.
func (g *payloadGen) bytes() {
	if g.wrong() {
		return
	}
	switch g.draw(6, "bytes") {
	case 0, 1:
		g.str(g.id[:])
	case 2:
		id := genID(g.t, "id")
		g.str(id[:])
	case 3:
		g.b = append(g.b, 0xc0)
	case 4:
		g.str(nil)
	default:
		g.str(rapid.SliceOfN(rapid.Byte(), 0, 70).Draw(g.t, "bytes"))
	}
}

// uint writes an integer, small (a valid kind or level) or not, in any
// encoding, signed ones included; or nil.
func (g *payloadGen) uint() {
	if g.wrong() {
		return
	}
	var v int64
	switch g.draw(4, "int size") {
	case 0, 1:
		v = int64(g.draw(6, "small"))
	case 2:
		v = rapid.Int64Range(-300, 70000).Draw(g.t, "int")
	default:
		v = rapid.Int64().Draw(g.t, "int")
	}
	code := rapid.SampledFrom([]byte{0x00, 0xcc, 0xd0, 0xcd, 0xd1, 0xc0, 0xce, 0xd2, 0xcf, 0xd3}).Draw(g.t, "int code")
	switch code {
	case 0xc0:
		g.b = append(g.b, code)
	case 0x00: // fixnum when it fits, else int64
		if v >= -32 && v <= 127 {
			g.b = append(g.b, byte(v))
		} else {
			g.b = binary.BigEndian.AppendUint64(append(g.b, 0xd3), uint64(v))
		}
	case 0xcc, 0xd0:
		g.b = append(g.b, code, byte(v))
	case 0xcd, 0xd1:
		g.b = binary.BigEndian.AppendUint16(append(g.b, code), uint16(v))
	case 0xce, 0xd2:
		g.b = binary.BigEndian.AppendUint32(append(g.b, code), uint32(v))
	default:
		g.b = binary.BigEndian.AppendUint64(append(g.b, code), uint64(v))
	}
}

func (g *payloadGen) bool() {
	if !g.wrong() {
		g.b = append(g.b, rapid.SampledFrom([]byte{0xc0, 0xc2, 0xc3}).Draw(g.t, "bool"))
	}
}

// any writes an arbitrary value (for unknown keys): scalars of every
// kind, extensions, nested arrays and maps.
func (g *payloadGen) any(depth int) {
	switch g.draw(9, "any") {
	case 0:
		g.b = append(g.b, rapid.SampledFrom([]byte{0xc0, 0xc2, 0xc3, 0x05, 0xff}).Draw(g.t, "scalar"))
	case 1:
		g.b = append(g.b, 0xcb, 1, 2, 3, 4, 5, 6, 7, 8) // float64
	case 2:
		g.b = append(g.b, 0xd6, 0xff, 1, 2, 3, 4) // fixext4 (a timestamp)
	case 3:
		g.b = append(g.b, 0xc7, 2, 0x05, 0x90, 0x91) // ext8 whose data looks like arrays
	case 4, 5:
		g.str(rapid.SliceOfN(rapid.Byte(), 0, 20).Draw(g.t, "any str"))
	case 6, 7:
		if depth < 3 {
			n := g.draw(4, "any len")
			g.arrayHeader(n)
			for range n {
				g.any(depth + 1)
			}
			break
		}
		g.b = append(g.b, 0x90)
	default:
		if depth < 3 {
			n := g.draw(3, "any len")
			g.mapHeader(n)
			for range n {
				g.any(depth + 1)
				g.any(depth + 1)
			}
			break
		}
		g.b = append(g.b, 0x80)
	}
}

// structOf writes a struct whose fields keys names, field i written by
// value(i): as a map of some of its fields (repeated, unknown or nil keys
// among them) or as an array of all of them (now and then of too few or
// none), or nil.
func (g *payloadGen) structOf(keys []string, value func(i int)) {
	switch g.draw(10, "struct form") {
	case 2, 3:
		g.arrayHeader(len(keys))
		for i := range keys {
			value(i)
		}
	case 4:
		g.b = append(g.b, 0xc0)
	case 5:
		g.arrayHeader(0)
	case 6:
		g.arrayHeader(len(keys) - 1)
		for i := range len(keys) - 1 {
			value(i)
		}
	default:
		n := g.draw(len(keys)+3, "entries")
		g.mapHeader(n)
		for range n {
			switch k := g.draw(len(keys)+2, "key"); {
			case k < len(keys):
				g.str([]byte(keys[k]))
				value(k)
			case k == len(keys):
				g.b = append(g.b, 0xc0) // nil key: ""
				g.any(1)
			default:
				g.str([]byte(rapid.SampledFrom([]string{"zz", "", "I", "name", "Names", "ii"}).Draw(g.t, "unknown key")))
				g.any(1)
			}
		}
	}
}

// slice writes an array of structs (or nil), each by elem.
func (g *payloadGen) slice(elem func()) {
	if g.wrong() {
		return
	}
	if g.chance(10, "nil slice") {
		g.b = append(g.b, 0xc0)
		return
	}
	n := g.draw(5, "len")
	g.arrayHeader(n)
	for range n {
		elem()
	}
}

var (
	payloadWireKeys = []string{"i", "k", "o", "a", "r", "t", "c", "u", "d", "as", "am", "s", "g", "n", "f", "re", "se", "te", "x"}
	// entryKeys indexes payloadWireKeys, the keys whose values are
	// structured first (rapid draws them most), the ID ones last.
	entryKeys      = []int{14, 18, 4, 10, 13, 5, 9, 15, 16, 17, 6, 7, 8, 11, 12, 1, 3, 2, 0}
	payloadSubKeys = map[string][]string{
		"r": {"Root", "Level"}, "am": {"Root", "At", "Origin"},
		"f": {"Name", "Value", "Stamp", "Origin"}, "x": {"Name", "Size", "Sum", "Stamp", "Origin"},
	}
)

// wireValue writes the value of wire's field i.
func (g *payloadGen) wireValue(i int) {
	switch key := payloadWireKeys[i]; key {
	case "i", "o", "s", "g":
		g.bytes()
	case "t":
		g.str(rapid.SliceOfN(rapid.Byte(), 0, 40).Draw(g.t, "type"))
	case "n":
		g.bool()
	case "r", "am", "f", "x":
		keys := payloadSubKeys[key]
		g.slice(func() { g.structOf(keys, func(j int) { g.subValue(keys[j]) }) })
	default:
		g.uint()
	}
}

// subValue writes a sub-struct's field named key.
func (g *payloadGen) subValue(key string) {
	switch key {
	case "Root", "Origin", "Value":
		g.bytes()
	case "Name":
		g.str([]byte(rapid.SampledFrom([]string{"", "a", "b", "name", "long field name", "\xff"}).Draw(g.t, "name")))
	case "Size":
		if g.draw(2, "big") == 0 {
			g.b = binary.BigEndian.AppendUint32(append(g.b, 0xce), anchor.OutOfLine+uint32(g.draw(3, "size")))
			break
		}
		g.uint()
	default:
		g.uint()
	}
}

// record writes a whole payload. Most start with a valid ID, kind and
// owner, so that what follows decides whether the record decodes.
func (g *payloadGen) record() {
	if g.chance(20, "top form") {
		g.structOf(payloadWireKeys, g.wireValue)
		return
	}
	n := g.draw(16, "entries")
	base := g.draw(4, "base") != 0
	if base {
		g.mapHeader(n + 3)
		g.str([]byte("i"))
		g.str(g.id[:])
		g.str([]byte("k"))
		g.b = append(g.b, byte(1+g.draw(4, "kind")))
		g.str([]byte("o"))
		g.str(make([]byte, 16))
	} else {
		g.mapHeader(n)
	}
	// Half the entries repeat one of two keys, so that later values of a
	// key decode over earlier ones (what msgpack keeps of them is the
	// subtle part: see decodeSlice).
	focus := []int{g.draw(len(entryKeys), "focus"), g.draw(len(entryKeys), "focus")}
	for range n {
		k := g.draw(len(entryKeys)+1, "key")
		if g.draw(2, "repeat") == 0 {
			k = focus[g.draw(2, "which")]
		}
		if k < len(entryKeys) {
			g.str([]byte(payloadWireKeys[entryKeys[k]]))
			g.wireValue(entryKeys[k])
		} else {
			g.str([]byte(rapid.SampledFrom([]string{"zz", "", "K", "fields"}).Draw(g.t, "unknown key")))
			g.any(0)
		}
	}
}
