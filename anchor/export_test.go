package anchor

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
)

// UnmarshalReflect is unmarshalReflect for the external tests (the fuzz
// targets live in anchor_test).
var UnmarshalReflect = unmarshalReflect

// unmarshalReflect is Unmarshal as it was before the hand-written decoder
// (decode.go): msgpack.Unmarshal into a wire by reflection, then the same
// checks. It is kept, unchanged, as the oracle the new decoder must agree
// with on every input (decode_oracle_test.go, FuzzUnmarshal): the
// reflection decoder defines what a record means.
func unmarshalReflect(id ID, b []byte) (a *Anchor, err error) {
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
	var w wire
	if err := msgpack.Unmarshal(b[headerLen:], &w); err != nil {
		return nil, bad("%v", err)
	}
	a = &Anchor{Kind: w.Kind, Access: Access{All: w.All}, Type: w.Type, Created: w.Created, Updated: w.Updated,
		Deleted: w.Deleted, Undirected: w.Undirected, Restored: w.Restored}
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
	for _, f := range w.Fields {
		var origin ID
		if len(f.Origin) > 0 {
			var err error
			if origin, err = IDFromBytes(f.Origin); err != nil {
				return nil, bad("field %q origin: %v", f.Name, err)
			}
		}
		if a.Fields == nil {
			a.Fields = make(map[string]Field, len(w.Fields))
		}
		if f.Value == nil {
			f.Value = []byte{}
		}
		a.Fields[f.Name] = Field{Value: f.Value, Stamp: f.Stamp, Origin: origin}
	}
	if len(w.Refs) > 0 && b[0] != FormatOutOfLine {
		return nil, bad("out-of-line references in a version %d record", b[0])
	}
	for _, r := range w.Refs {
		var origin ID
		if len(r.Origin) > 0 {
			var err error
			if origin, err = IDFromBytes(r.Origin); err != nil {
				return nil, bad("field %q origin: %v", r.Name, err)
			}
		}
		if _, dup := a.Fields[r.Name]; dup || r.Size < OutOfLine {
			return nil, bad("out-of-line field %q of %d bytes", r.Name, r.Size)
		}
		if a.Fields == nil {
			a.Fields = make(map[string]Field, len(w.Refs))
		}
		a.Fields[r.Name] = Field{Stamp: r.Stamp, Origin: origin, Ref: &Ref{Size: r.Size, Sum: r.Sum}}
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

// MarshalReflect is marshalReflect for the external tests.
var MarshalReflect = marshalReflect

// marshalReflect is Marshal as it was before the hand-written encoder
// (encode.go): a wire encoded by msgpack's reflection. It is kept,
// unchanged, as the oracle Marshal must match byte for byte
// (encode_oracle_test.go): msgpack's encoder defines the record's bytes.
func marshalReflect(a *Anchor) ([]byte, error) {
	w := wire{
		ID: a.ID[:], Kind: a.Kind, Owner: a.Owner[:], All: a.Access.All, Type: a.Type,
		Created: a.Created, Updated: a.Updated, Deleted: a.Deleted, Undirected: a.Undirected,
		Restored: a.Restored,
	}
	for _, root := range slices.SortedFunc(maps.Keys(a.AccessStamps), func(x, y ID) int { return bytes.Compare(x[:], y[:]) }) {
		m := a.AccessStamps[root]
		wm := wireMark{At: m.At}
		if !root.IsZero() {
			wm.Root = root[:]
		}
		if !m.Origin.IsZero() {
			wm.Origin = m.Origin[:]
		}
		w.AccessMarks = append(w.AccessMarks, wm)
	}
	for _, root := range slices.SortedFunc(maps.Keys(a.Access.Roots), func(x, y ID) int { return bytes.Compare(x[:], y[:]) }) {
		w.Grants = append(w.Grants, wireGrant{Root: root[:], Level: a.Access.Roots[root]})
	}
	for _, name := range a.FieldNames() {
		f := a.Fields[name]
		if f.Ref != nil {
			wr := wireRef{Name: name, Size: f.Ref.Size, Sum: f.Ref.Sum, Stamp: f.Stamp}
			if !f.Origin.IsZero() {
				wr.Origin = f.Origin[:]
			}
			w.Refs = append(w.Refs, wr)
			continue
		}
		wf := wireField{Name: name, Value: f.Value, Stamp: f.Stamp}
		if !f.Origin.IsZero() {
			wf.Origin = f.Origin[:]
		}
		w.Fields = append(w.Fields, wf)
	}
	if a.Kind == KindEdge {
		w.Source, w.Target = a.Source[:], a.Target[:]
		w.SourceEpoch, w.TargetEpoch = a.SourceEpoch, a.TargetEpoch
	}
	var buf bytes.Buffer
	buf.Write(make([]byte, headerLen))
	if err := msgpack.NewEncoder(&buf).Encode(&w); err != nil {
		return nil, &Error{Op: "encode", ID: a.ID, Err: err}
	}
	b := buf.Bytes()
	b[0] = FormatVersion
	if len(w.Refs) > 0 {
		b[0] = FormatOutOfLine
	}
	binary.LittleEndian.PutUint32(b[1:headerLen], crc32.Checksum(b[headerLen:], castagnoli))
	return b, nil
}
