package anchor_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"pgregory.net/rapid"

	"github.com/anchorage-db/anchorage/anchor"
)

// The hand-written decoder (decode.go) must agree with the reflection
// decoder it replaced (anchor.UnmarshalReflect) on every input: both fail,
// with the same sentinel, or both return equal anchors. FuzzUnmarshal
// checks it on its corpus and whatever the fuzzer finds; the tests below
// on random anchors through Marshal and on random payloads shaped like
// records, which reach the decoders' leniencies (repeated keys, structs
// as maps, nil for anything) far more often than the fuzzer does.

// fataler is what sameDecode needs of a *testing.T or a *rapid.T.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// sameDecode decodes rec under id with both decoders and fails t unless
// they agree. It reports whether they accepted the record.
func sameDecode(t fataler, id anchor.ID, rec []byte) bool {
	t.Helper()
	a, err := anchor.Unmarshal(id, rec)
	o, oerr := anchor.UnmarshalReflect(id, rec)
	if (err == nil) != (oerr == nil) {
		t.Fatalf("decoders disagree on % x:\nnew:        %v %+v\nreflection: %v %+v", rec, err, a, oerr, o)
	}
	if err != nil {
		for _, sentinel := range []error{anchor.ErrCorrupt, anchor.ErrVersion} {
			if errors.Is(err, sentinel) != errors.Is(oerr, sentinel) {
				t.Fatalf("decoders fail differently on % x:\nnew:        %v\nreflection: %v", rec, err, oerr)
			}
		}
		var ae *anchor.Error
		if a != nil || !errors.As(err, &ae) || ae.ID != id {
			t.Fatalf("new decoder's error %v (%T, anchor %v) is not an *anchor.Error naming %s", err, err, a, id)
		}
		return false
	}
	if !reflect.DeepEqual(a, o) {
		t.Fatalf("decoders disagree on % x:\nnew:        %+v\nreflection: %+v", rec, a, o)
	}
	for name, f := range a.Fields {
		if cap(f.Value) != len(f.Value) {
			t.Fatalf("field %q: value of %d bytes has capacity %d: an append would overwrite the next value", name, len(f.Value), cap(f.Value))
		}
	}
	return true
}

// genID draws from a few IDs, the zero one among them, so that grants,
// marks and fields collide.
func genID(t *rapid.T, label string) anchor.ID {
	return rapid.SampledFrom([]anchor.ID{{}, {1}, {2, 2}, {0xff, 3}, anchor.MustParseID("0190a2b4-0000-7000-8000-000000000004")}).Draw(t, label)
}

func genHLC(t *rapid.T, label string) anchor.HLC {
	if rapid.Bool().Draw(t, label+" set") {
		return anchor.HLC(rapid.Uint64().Draw(t, label))
	}
	return 0
}

// genAnchor draws an anchor of any shape Marshal accepts, valid or not
// (kinds outside the four, references the decoder refuses).
func genAnchor(t *rapid.T) *anchor.Anchor {
	a := &anchor.Anchor{
		ID: genID(t, "id"), Kind: anchor.Kind(rapid.IntRange(0, 5).Draw(t, "kind")), Owner: genID(t, "owner"),
		Access:  anchor.Access{All: anchor.Level(rapid.IntRange(0, 4).Draw(t, "all"))},
		Type:    rapid.String().Draw(t, "type"),
		Created: genHLC(t, "created"), Updated: genHLC(t, "updated"), Deleted: genHLC(t, "deleted"), Restored: genHLC(t, "restored"),
		SourceEpoch: genHLC(t, "source epoch"), TargetEpoch: genHLC(t, "target epoch"),
		Source: genID(t, "source"), Target: genID(t, "target"), Undirected: rapid.Bool().Draw(t, "undirected"),
	}
	for range rapid.IntRange(0, 3).Draw(t, "grants") {
		a.Access.SetEntry(genID(t, "grant root"), anchor.Level(rapid.IntRange(0, 4).Draw(t, "level")))
	}
	for range rapid.IntRange(0, 3).Draw(t, "marks") {
		if a.AccessStamps == nil {
			a.AccessStamps = map[anchor.ID]anchor.Mark{}
		}
		a.AccessStamps[genID(t, "mark root")] = anchor.Mark{At: genHLC(t, "at"), Origin: genID(t, "mark origin")}
	}
	for range rapid.IntRange(0, 6).Draw(t, "fields") {
		if a.Fields == nil {
			a.Fields = map[string]anchor.Field{}
		}
		f := anchor.Field{Stamp: genHLC(t, "stamp"), Origin: genID(t, "field origin")}
		switch rapid.IntRange(0, 5).Draw(t, "value") {
		case 0:
			// nil: written as msgpack nil, read back empty
		case 1:
			f.Ref = &anchor.Ref{Size: rapid.Int64Range(anchor.OutOfLine-2, 1<<40).Draw(t, "size"), Sum: rapid.Uint32().Draw(t, "sum")}
		default:
			f.Value = rapid.SliceOfN(rapid.Byte(), 0, 300).Draw(t, "bytes")
		}
		a.Fields[rapid.StringN(0, 40, -1).Draw(t, "name")] = f
	}
	return a
}

func TestUnmarshalMatchesReflectOnAnchors(t *testing.T) {
	accepted := 0
	rapid.Check(t, func(t *rapid.T) {
		a := genAnchor(t)
		rec, err := anchor.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		id := a.ID
		if rapid.IntRange(0, 9).Draw(t, "other key") == 0 {
			id = genID(t, "key")
		}
		if sameDecode(t, id, rec) {
			accepted++
		}
	})
	if accepted == 0 {
		t.Fatal("no random anchor decoded: the comparison compared only failures")
	}
}

// TestUnmarshalCopies: the anchor shares no memory with the record (a
// store may reuse it), and its values none with each other or its names.
func TestUnmarshalCopies(t *testing.T) {
	a := seedAnchors()[1]
	rec := mustMarshal(t, a)
	got, err := anchor.Unmarshal(a.ID, rec)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rec {
		rec[i] = 0xee
	}
	for _, f := range got.Fields {
		_ = append(f.Value, "appended past the value's end"...)
	}
	fresh, err := anchor.Unmarshal(a.ID, mustMarshal(t, a))
	if err != nil {
		t.Fatal(err)
	}
	if d := anchorDiff(got, fresh); d != "" || got.Type != a.Type {
		t.Fatalf("overwriting the record or appending to values changed the decoded anchor: %s", d)
	}
}

// TestUnmarshalMatchesReflectOnQuirks pins, one by one, the leniencies of
// msgpack's reflection decoder the new decoder reproduces (see decode.go);
// the random payloads reach them too, but not all of them often.
func TestUnmarshalMatchesReflectOnQuirks(t *testing.T) {
	id := anchor.ID{1}
	str := func(s string) []byte { return append([]byte{0xa0 | byte(len(s))}, s...) }
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	field := func(name, value string, stamp byte) []byte { // as Marshal writes it
		return cat([]byte{0x94}, str(name), str(value), []byte{stamp, 0xc0})
	}
	stamp := func(s byte) []byte { return cat([]byte{0x81}, str("Stamp"), []byte{s}) }
	record := func(entries int, rest ...[]byte) []byte { // i, k and o, then rest
		return cat([]byte{0x80 | byte(3+entries)}, str("i"), []byte{0xc4, 16}, id[:], str("k"), []byte{1},
			str("o"), []byte{0xc4, 16}, make([]byte, 16), cat(rest...))
	}
	f := str("f")
	level := func(l byte) []byte { return cat([]byte{0x81}, str("Level"), []byte{l}) }
	owner, other := anchor.ID{2}, anchor.ID{3}
	for _, tc := range []struct {
		name    string
		payload []byte
		ok      bool
	}{
		{"a repeated key's map-form elements change only the fields they name", record(2,
			f, []byte{0x91}, field("a", "v1", 1), f, []byte{0x91}, stamp(5)), true},
		{"elements past a shorter repeat are kept for a longer one", record(3,
			f, []byte{0x92}, field("a", "v1", 1), field("b", "v2", 2), f, []byte{0x91}, field("c", "v3", 3),
			f, []byte{0x92}, stamp(7), stamp(8)), true},
		{"and when the longer one outgrows the list", record(3,
			f, []byte{0x92}, field("a", "v1", 1), field("b", "v2", 2), f, []byte{0x91}, field("c", "v3", 3),
			f, []byte{0x93}, stamp(7), stamp(8), stamp(9)), true},
		{"and for grants, which outgrow their list", record(3,
			str("r"), []byte{0x92, 0x92, 0xc4, 16}, id[:], []byte{1, 0x92, 0xc4, 16}, owner[:], []byte{2},
			str("r"), []byte{0x91, 0x92, 0xc4, 16}, id[:], []byte{3},
			str("r"), []byte{0x93}, level(1), level(2), []byte{0x92, 0xc4, 16}, other[:], []byte{3}), true},
		{"a nil element is the zero field", record(2, f, []byte{0x91}, field("a", "v1", 1), f, []byte{0x91, 0xc0}), true},
		{"an empty array element is the zero field", record(2, f, []byte{0x91}, field("a", "v1", 1), f, []byte{0x91, 0x90}), true},
		{"a nil list forgets the earlier elements", record(3,
			f, []byte{0x91}, field("a", "v1", 1), f, []byte{0xc0}, f, []byte{0x91}, stamp(2)), true},
		{"an element of too few fields", record(1, f, []byte{0x91, 0x92}, str("a"), str("v")), false},
		{"the record as an array of all its fields", cat([]byte{0xdc, 0, 19, 0xc4, 16}, id[:], []byte{2, 0xc4, 16}, make([]byte, 16),
			[]byte{1, 0xc0}, str("Follows"), []byte{5, 6, 0, 0, 0x90, 0xc4, 16}, id[:], []byte{0xc4, 16}, id[:],
			[]byte{0xc3, 0x91}, field("a", "v", 1), []byte{0, 7, 8, 0xc0}), true},
		{"strings as binaries, keys too", record(2, []byte{0xc4, 1, 't', 0xc4, 4}, []byte("Type"),
			[]byte{0xc4, 1, 'f', 0x91, 0x94, 0xc4, 1, 'a', 0xd9, 1, 'v', 1, 0xc0}), true},
		{"a kind of 257 is kind 1 (truncated)", record(1, str("k"), []byte{0xcd, 1, 1}), true},
		{"a negative stamp is a huge one", record(1, str("c"), []byte{0xd0, 0xff}), true},
		{"a legacy access stamp", record(2, str("as"), []byte{9}, str("r"), []byte{0x91, 0x92, 0xc4, 16}, id[:], []byte{3}), true},
		{"nil and unknown keys are skipped", record(2, []byte{0xc0, 0x91, 0x92, 0x80, 0xd6, 0xff, 0, 0, 0, 0}, str("zz"), []byte{0x81, 0xa0, 0xc3}), true},
		{"a key that is not a string", record(1, []byte{0x01, 0x01}), false},
		{"a bool field holding an integer", record(1, str("n"), []byte{0x01}), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ok := sameDecode(t, id, seal(anchor.FormatVersion, tc.payload)); ok != tc.ok {
				t.Fatalf("both decoders returned ok=%v, want %v", ok, tc.ok)
			}
		})
	}
}
