package anchor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"reflect"

	"github.com/vmihailenco/msgpack/v5"
)

// FormatVersion is the version byte that starts an encoded anchor.
// Decoders read it and FormatOutOfLine, and refuse any other value with
// ErrVersion.
const FormatVersion byte = 1

// FormatOutOfLine is the version of a record holding references to field
// values stored out of line (Field.Ref). Records without references keep
// FormatVersion, so stores written before it still read and compare equal;
// a build that predates it refuses such a record (ErrVersion) rather than
// read it without those fields.
const FormatOutOfLine byte = 2

// headerLen: version byte + CRC-32C of the payload.
const headerLen = 1 + 4

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// wire is the msgpack layout of an anchor. Short keys keep records small;
// new fields must be added with omitempty so older records still decode.
// Maps are written as slices sorted by key, so equal anchors encode to
// equal bytes. Marshal writes this layout by hand (encode.go) and
// Unmarshal reads it by hand (rawWire, decode.go), so a field added here
// must be added to both; the tests keep msgpack's reflection encoder and
// decoder of wire as the oracles both must agree with.
type wire struct {
	ID          []byte      `msgpack:"i"`
	Kind        Kind        `msgpack:"k"`
	Owner       []byte      `msgpack:"o"`
	All         Level       `msgpack:"a"`
	Grants      []wireGrant `msgpack:"r,omitempty"`
	Type        string      `msgpack:"t"`
	Created     HLC         `msgpack:"c"`
	Updated     HLC         `msgpack:"u"`
	Deleted     HLC         `msgpack:"d,omitempty"`
	AccessStamp HLC         `msgpack:"as,omitempty"` // format 1 before per-entry marks: one stamp for all access
	AccessMarks []wireMark  `msgpack:"am,omitempty"`
	Source      []byte      `msgpack:"s,omitempty"`
	Target      []byte      `msgpack:"g,omitempty"`
	Undirected  bool        `msgpack:"n,omitempty"`
	Fields      []wireField `msgpack:"f,omitempty"`
	Restored    HLC         `msgpack:"re,omitempty"`
	SourceEpoch HLC         `msgpack:"se,omitempty"`
	TargetEpoch HLC         `msgpack:"te,omitempty"`
	Refs        []wireRef   `msgpack:"x,omitempty"` // FormatOutOfLine only
}

// wireRef is a field whose value is stored out of line (Field.Ref).
type wireRef struct {
	_msgpack struct{} `msgpack:",as_array"`
	Name     string
	Size     int64
	Sum      uint32
	Stamp    HLC
	Origin   []byte
}

type wireGrant struct {
	_msgpack struct{} `msgpack:",as_array"`
	Root     []byte
	Level    Level
}

// wireMark is one entry of Anchor.AccessStamps; an empty Root is Access.All.
type wireMark struct {
	_msgpack struct{} `msgpack:",as_array"`
	Root     []byte
	At       HLC
	Origin   []byte
}

type wireField struct {
	_msgpack struct{} `msgpack:",as_array"`
	Name     string
	Value    []byte
	Stamp    HLC
	Origin   []byte
}

// Unmarshal decodes a record written by Marshal. id is the key the record
// was stored under; a record naming another ID is corrupt. Every failure is
// an *Error naming id and wrapping ErrCorrupt or ErrVersion; Unmarshal never
// panics, whatever the input.
//
// The anchor shares nothing with b (a store's b may be memory it reuses):
// its type and field names are one string, its field values sub-slices of
// one buffer, each capped at its own end so that appending to one cannot
// overwrite the next.
func Unmarshal(id ID, b []byte) (a *Anchor, err error) {
	bad := func(format string, args ...any) error {
		return &Error{Op: "decode", ID: id, Err: fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)}
	}
	if len(b) < headerLen {
		return nil, bad("record of %d bytes is shorter than its %d-byte header", len(b), headerLen)
	}
	// The header layout (version, CRC-32C) is fixed for every version, so a
	// checksum failure means damage, and only an intact record of another
	// version means "written by a newer build".
	if want, got := binary.LittleEndian.Uint32(b[1:headerLen]), crc32.Checksum(b[headerLen:], castagnoli); want != got {
		return nil, bad("checksum %08x, want %08x", got, want)
	}
	if b[0] != FormatVersion && b[0] != FormatOutOfLine {
		return nil, &Error{Op: "decode", ID: id, Err: fmt.Errorf("%w: record version %d, this build reads %d and %d", ErrVersion, b[0], FormatVersion, FormatOutOfLine)}
	}
	defer func() {
		if r := recover(); r != nil {
			a, err = nil, bad("decoder panic: %v", r)
		}
	}()
	if err := checkMsgpack(b[headerLen:]); err != nil {
		return nil, bad("%v", err)
	}
	var w rawWire
	var fieldBuf [8]rawField // see decodeWire
	fields, err := decodeWire(b[headerLen:], &w, fieldBuf[:0])
	if err != nil {
		return nil, bad("%v", err)
	}
	names, values := w.copies(fields)
	a = &Anchor{Kind: w.Kind, Access: Access{All: w.All}, Type: names[:len(w.Type)], Created: w.Created, Updated: w.Updated,
		Deleted: w.Deleted, Undirected: w.Undirected, Restored: w.Restored}
	names = names[len(w.Type):]
	if w.Kind == KindEdge {
		a.SourceEpoch, a.TargetEpoch = w.SourceEpoch, w.TargetEpoch
	}
	for _, g := range w.Grants {
		root, err := IDFromBytes(g.Root)
		if err != nil {
			return nil, bad("grant root: %v", err)
		}
		if a.Access.Roots == nil {
			a.Access.Roots = make(map[ID]Level, len(w.Grants))
		}
		a.Access.Roots[root] = g.Level
	}
	if w.AccessStamp != 0 {
		// A record from before per-entry marks: its one access stamp
		// marks every entry.
		a.AccessStamps = map[ID]Mark{SystemRoot: {At: w.AccessStamp}}
		for root := range a.Access.Roots {
			a.AccessStamps[root] = Mark{At: w.AccessStamp}
		}
	}
	for _, m := range w.AccessMarks {
		var root, origin ID
		var err error
		if len(m.Root) > 0 {
			if root, err = IDFromBytes(m.Root); err != nil {
				return nil, bad("access mark root: %v", err)
			}
		}
		if len(m.Origin) > 0 {
			if origin, err = IDFromBytes(m.Origin); err != nil {
				return nil, bad("access mark origin: %v", err)
			}
		}
		if a.AccessStamps == nil {
			a.AccessStamps = make(map[ID]Mark, len(w.AccessMarks))
		}
		a.AccessStamps[root] = Mark{At: m.At, Origin: origin}
	}
	if n := len(fields) + len(w.Refs); n > 0 {
		a.Fields = make(map[string]Field, n)
	}
	for _, f := range fields {
		name := names[:len(f.Name)]
		names = names[len(f.Name):]
		var origin ID
		if len(f.Origin) > 0 {
			var err error
			if origin, err = IDFromBytes(f.Origin); err != nil {
				return nil, bad("field %q origin: %v", name, err)
			}
		}
		// A nil value (msgpack nil) becomes an empty one, as it always did.
		value := values[:len(f.Value):len(f.Value)]
		values = values[len(f.Value):]
		a.Fields[name] = Field{Value: value, Stamp: f.Stamp, Origin: origin}
	}
	if len(w.Refs) > 0 && b[0] != FormatOutOfLine {
		return nil, bad("out-of-line references in a version %d record", b[0])
	}
	for _, r := range w.Refs {
		name := names[:len(r.Name)]
		names = names[len(r.Name):]
		var origin ID
		if len(r.Origin) > 0 {
			var err error
			if origin, err = IDFromBytes(r.Origin); err != nil {
				return nil, bad("field %q origin: %v", name, err)
			}
		}
		if _, dup := a.Fields[name]; dup || r.Size < OutOfLine {
			return nil, bad("out-of-line field %q of %d bytes", name, r.Size)
		}
		a.Fields[name] = Field{Stamp: r.Stamp, Origin: origin, Ref: &Ref{Size: r.Size, Sum: r.Sum}}
	}
	for _, p := range []struct {
		dst  *ID
		src  []byte
		need bool
	}{{&a.ID, w.ID, true}, {&a.Owner, w.Owner, true}, {&a.Source, w.Source, w.Kind == KindEdge}, {&a.Target, w.Target, w.Kind == KindEdge}} {
		if len(p.src) == 0 && !p.need {
			continue
		}
		if len(p.src) != len(ID{}) {
			return nil, bad("id field of %d bytes", len(p.src))
		}
		copy(p.dst[:], p.src)
	}
	if a.ID != id {
		return nil, bad("record holds anchor %s", a.ID)
	}
	if !a.Kind.Valid() {
		return nil, bad("unknown kind %d", uint8(a.Kind))
	}
	return a, nil
}

// EncodeValue encodes a field value with msgpack, canonically: maps are
// written with their entries sorted by key, so equal values always encode
// to equal bytes (changes are detected by comparing bytes).
func EncodeValue(v any) ([]byte, error) {
	b, err := msgpack.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%w: encode %T: %v", ErrFieldType, v, err)
	}
	b = canonical(b) // msgpack.Marshal's output is well-formed
	if err := checkMsgpack(b); err != nil {
		return nil, fmt.Errorf("%w: encode %T: %v", ErrFieldType, v, err)
	}
	return b, nil
}

// DecodeValue decodes a msgpack field value into v (a pointer). A value that
// does not fit v's type yields an error wrapping ErrFieldType that names
// the stored type and the requested one (never the decoder's internals).
// A float that holds a whole number decodes into an integer type that can
// hold it, as the same number written by a language without integers would.
func DecodeValue(b []byte, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = typeMismatch(b, v)
		}
	}()
	if err := checkMsgpack(b); err != nil {
		return fmt.Errorf("%w: a damaged value cannot decode into %T", ErrFieldType, v)
	}
	if err := msgpack.Unmarshal(b, v); err != nil {
		if wholeFloat(b, v) {
			return nil
		}
		return typeMismatch(b, v)
	}
	return nil
}

func typeMismatch(b []byte, v any) error {
	return fmt.Errorf("%w: stored %s, requested %T", ErrFieldType, storedType(b), v)
}

// storedType names the msgpack type a value starts with.
func storedType(b []byte) string {
	if len(b) == 0 {
		return "nothing"
	}
	switch c := b[0]; {
	case c <= 0x7f, c >= 0xe0, c >= 0xcc && c <= 0xd3:
		return "integer"
	case c == 0xc0:
		return "nil"
	case c == 0xc2, c == 0xc3:
		return "bool"
	case c == 0xca, c == 0xcb:
		return "float"
	case c >= 0xa0 && c <= 0xbf, c >= 0xd9 && c <= 0xdb:
		return "string"
	case c >= 0xc4 && c <= 0xc6:
		return "bytes"
	case c >= 0x90 && c <= 0x9f, c == 0xdc, c == 0xdd:
		return "array"
	case c >= 0x80 && c <= 0x8f, c == 0xde, c == 0xdf:
		return "map"
	}
	return "extension"
}

// wholeFloat decodes a stored float holding a whole number into v, a
// pointer to an integer that can hold it, and reports whether it did.
func wholeFloat(b []byte, v any) bool {
	if len(b) == 0 || (b[0] != 0xca && b[0] != 0xcb) {
		return false
	}
	var f float64
	if msgpack.Unmarshal(b, &f) != nil || f != math.Trunc(f) || math.IsInf(f, 0) {
		return false
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	e := rv.Elem()
	switch e.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if f < -(1<<63) || f >= 1<<63 || e.OverflowInt(int64(f)) {
			return false
		}
		e.SetInt(int64(f))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if f < 0 || f >= 1<<64 || e.OverflowUint(uint64(f)) {
			return false
		}
		e.SetUint(uint64(f))
	default:
		return false
	}
	return true
}

// IsNotFound reports whether err means the anchor does not exist or is a
// tombstone.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) || errors.Is(err, ErrDeleted) }
