package anchor

import "strings"

// The decoder below reads a record's msgpack payload (the wire layout
// Marshal writes) without reflection. msgpack.Unmarshal into a wire made
// one allocation per byte string (every ID, name, value and origin) plus
// its decoder state; this one takes every byte string as a sub-slice of
// the payload and copies only what the Anchor keeps, in two allocations
// (see rawWire.copies).
//
// It must accept exactly the payloads msgpack.Unmarshal accepted and
// decode them to the same anchor, not only the ones Marshal writes: a
// record is data from disk or from another replica. So it follows
// msgpack v5's reflection decoder rule for rule, including its leniency:
// a struct may come as a map (keys in any order, repeated, unknown ones
// skipped) or as an array of all its fields in order, nil stands for the
// zero value, strings and binaries are interchangeable, integers of any
// width and sign fit any integer field (truncated as reflect.Value.SetUint
// truncates). Tests check this against the reflection decoder, kept as
// unmarshalReflect in export_test.go: decode_oracle_test.go,
// decode_payload_test.go and FuzzUnmarshal. Unmarshal has run
// checkMsgpack first, so lengths are within the payload; the reader
// checks them again rather than index out of range.

// rawWire is wire as msgpack.Unmarshal would fill it, with every byte
// string (including names and the type, strings in wire) a sub-slice of
// the payload. A nil slice stands for msgpack nil, as in wire.
type rawWire struct {
	ID, Owner, Source, Target []byte
	Kind                      Kind
	All                       Level
	Type                      []byte
	Undirected                bool

	Created, Updated, Deleted, AccessStamp HLC
	Restored, SourceEpoch, TargetEpoch     HLC

	Grants      []rawGrant
	AccessMarks []rawMark
	Refs        []rawRef
	// Fields ("f") is kept apart: see decodeWire.
}

type rawGrant struct {
	Root  []byte
	Level Level
}

type rawMark struct {
	Root   []byte
	At     HLC
	Origin []byte
}

type rawField struct {
	Name, Value []byte
	Stamp       HLC
	Origin      []byte
}

type rawRef struct {
	Name   []byte
	Size   int64
	Sum    uint32
	Stamp  HLC
	Origin []byte
}

// The msgpack names of each struct's fields, in field order: wire's tags,
// and the Go field names of the untagged sub-structs (msgpack's default).
// A struct encoded as an array lists its fields in this order.
var (
	wireKeys  = []string{"i", "k", "o", "a", "r", "t", "c", "u", "d", "as", "am", "s", "g", "n", "f", "re", "se", "te", "x"}
	grantKeys = []string{"Root", "Level"}
	markKeys  = []string{"Root", "At", "Origin"}
	fieldKeys = []string{"Name", "Value", "Stamp", "Origin"}
	refKeys   = []string{"Name", "Size", "Sum", "Stamp", "Origin"}
)

func (w *rawWire) field(r *reader, i int) (err error) {
	switch wireKeys[i] {
	case "i":
		w.ID, err = r.bytes()
	case "k":
		var n uint64
		n, err = r.uint()
		w.Kind = Kind(n)
	case "o":
		w.Owner, err = r.bytes()
	case "a":
		var n uint64
		n, err = r.uint()
		w.All = Level(n)
	case "r":
		// Closures over r rather than method values taking it: a reader
		// passed to a function value escapes, one allocation per decode.
		w.Grants, err = decodeSlice(r, w.Grants, func(x *rawGrant) error { return x.decode(r) })
	case "t":
		w.Type, err = r.bytes()
	case "c":
		w.Created, err = r.hlc()
	case "u":
		w.Updated, err = r.hlc()
	case "d":
		w.Deleted, err = r.hlc()
	case "as":
		w.AccessStamp, err = r.hlc()
	case "am":
		w.AccessMarks, err = decodeSlice(r, w.AccessMarks, func(x *rawMark) error { return x.decode(r) })
	case "s":
		w.Source, err = r.bytes()
	case "g":
		w.Target, err = r.bytes()
	case "n":
		w.Undirected, err = r.bool()
	case "re":
		w.Restored, err = r.hlc()
	case "se":
		w.SourceEpoch, err = r.hlc()
	case "te":
		w.TargetEpoch, err = r.hlc()
	case "x":
		w.Refs, err = decodeSlice(r, w.Refs, func(x *rawRef) error { return x.decode(r) })
	}
	return err
}

// decodeWire decodes a whole payload into w (zero on entry) and its field
// list, which it decodes into fields (empty) and returns rather than
// store in w: a slice stored through a pointer escapes to the heap, so
// this way a caller's array on its stack can hold the list (one
// allocation fewer) unless the record has more fields than it holds.
func decodeWire(payload []byte, w *rawWire, fields []rawField) ([]rawField, error) {
	r := reader{b: payload}
	zero, err := r.decodeStruct(wireKeys, func(i int) (err error) {
		if wireKeys[i] != "f" {
			return w.field(&r, i)
		}
		// As decodeSlice, with direct calls: fields passed to a
		// function value would escape.
		fields, err = resize(&r, fields)
		for i := 0; err == nil && i < len(fields); i++ {
			err = fields[i].decode(&r)
		}
		return err
	})
	if zero {
		*w, fields = rawWire{}, nil
	}
	return fields, err
}

func (g *rawGrant) decode(r *reader) error {
	zero, err := r.decodeStruct(grantKeys, func(i int) (err error) {
		if i == 0 {
			g.Root, err = r.bytes()
			return err
		}
		var n uint64
		n, err = r.uint()
		g.Level = Level(n)
		return err
	})
	if zero {
		*g = rawGrant{}
	}
	return err
}

func (m *rawMark) decode(r *reader) error {
	zero, err := r.decodeStruct(markKeys, func(i int) (err error) {
		switch i {
		case 0:
			m.Root, err = r.bytes()
		case 1:
			m.At, err = r.hlc()
		case 2:
			m.Origin, err = r.bytes()
		}
		return err
	})
	if zero {
		*m = rawMark{}
	}
	return err
}

func (f *rawField) decode(r *reader) error {
	zero, err := r.decodeStruct(fieldKeys, func(i int) (err error) {
		switch i {
		case 0:
			f.Name, err = r.bytes()
		case 1:
			f.Value, err = r.bytes()
		case 2:
			f.Stamp, err = r.hlc()
		case 3:
			f.Origin, err = r.bytes()
		}
		return err
	})
	if zero {
		*f = rawField{}
	}
	return err
}

func (x *rawRef) decode(r *reader) error {
	zero, err := r.decodeStruct(refKeys, func(i int) (err error) {
		switch i {
		case 0:
			x.Name, err = r.bytes()
		case 1:
			x.Size, err = r.int()
		case 2:
			var n uint64
			n, err = r.uint()
			x.Sum = uint32(n)
		case 3:
			x.Stamp, err = r.hlc()
		case 4:
			x.Origin, err = r.bytes()
		}
		return err
	})
	if zero {
		*x = rawRef{}
	}
	return err
}

// copies returns what of the payload the anchor keeps, copied: its type
// and field names (fields, then references), in that order, in one
// string, and its inline field values, in order, in one buffer. Two
// allocations instead of one per name and value; a name shares no memory
// with a value, so writing to a value cannot change a name.
func (w *rawWire) copies(fields []rawField) (names string, values []byte) {
	nn, nv := len(w.Type), 0
	for _, f := range fields {
		nn, nv = nn+len(f.Name), nv+len(f.Value)
	}
	for _, x := range w.Refs {
		nn += len(x.Name)
	}
	var sb strings.Builder
	sb.Grow(nn)
	sb.Write(w.Type)
	values = make([]byte, 0, nv)
	for _, f := range fields {
		sb.Write(f.Name)
		values = append(values, f.Value...)
	}
	for _, x := range w.Refs {
		sb.Write(x.Name)
	}
	return sb.String(), values
}
