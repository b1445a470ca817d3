package anchor_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"maps"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/internal/childproc"
)

// The fuzz targets here run their seed corpus (the f.Add seeds below and
// testdata/fuzz/<Name>/) in every `go test`. To search for new inputs:
//
//	go test -run='^$' -fuzz='^FuzzUnmarshal$' -fuzztime=10m ./anchor/
//	go test -run='^$' -fuzz='^FuzzDecodeValue$' -fuzztime=10m ./anchor/

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// seal gives payload the record header Marshal writes (version byte,
// CRC-32C of the payload), so fuzzed payloads get past the checksum and
// exercise the decoder behind it.
func seal(version byte, payload []byte) []byte {
	rec := make([]byte, 5, 5+len(payload))
	rec[0] = version
	rec = append(rec, payload...)
	binary.LittleEndian.PutUint32(rec[1:5], crc32.Checksum(payload, castagnoli))
	return rec
}

// seedAnchors are real anchors of every shape: node, directed and
// undirected edge, self-loop, tombstone, walker, object, with and without
// fields and per-root grants.
func seedAnchors() []*anchor.Anchor {
	id := func(b byte) anchor.ID { return anchor.ID{b, 1, 2, 3, 4, 5, 0x46, 7, 0x88, 9, 10, 11, 12, 13, 14, b} }
	set := func(a *anchor.Anchor, kv ...any) *anchor.Anchor {
		for i := 0; i < len(kv); i += 2 {
			if err := a.SetField(kv[i].(string), kv[i+1]); err != nil {
				panic(err)
			}
			a.Fields[kv[i].(string)] = anchor.Field{Value: a.Fields[kv[i].(string)].Value, Stamp: anchor.MakeHLC(1700000000000+int64(i), uint16(i))}
		}
		return a
	}
	root := id(0xa0)
	return []*anchor.Anchor{
		{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root", Created: 1, Updated: 1},
		set(&anchor.Anchor{ID: id(1), Kind: anchor.KindNode, Owner: root, Type: "Profile", Created: anchor.MakeHLC(1700000000000, 1), Updated: anchor.MakeHLC(1700000000500, 0),
			Access: anchor.Access{All: anchor.Read}}, "name", "ada", "age", 36, "tags", []string{"x", "y"}, "score", 1.5, "ok", true, "blob", []byte{0, 1, 2}, "nil", nil),
		set(&anchor.Anchor{ID: id(2), Kind: anchor.KindEdge, Owner: root, Type: "Follows", Source: root, Target: id(1), Created: 5, Updated: 6,
			Access: anchor.Access{All: anchor.Connect, Roots: map[anchor.ID]anchor.Level{id(0xb0): anchor.Write}}}, "since", 2024),
		{ID: id(3), Kind: anchor.KindEdge, Owner: root, Type: "Knows", Source: id(1), Target: root, Undirected: true, Created: 7, Updated: 7},
		{ID: id(4), Kind: anchor.KindEdge, Owner: root, Type: "Self", Source: id(1), Target: id(1), Created: 8, Updated: 8},
		set(&anchor.Anchor{ID: id(5), Kind: anchor.KindNode, Owner: root, Type: "Gone", Created: 9, Updated: 10, Deleted: 10, AccessStamps: map[anchor.ID]anchor.Mark{anchor.SystemRoot: {At: 9}, root: {At: 9, Origin: id(7)}}}, "n", 1),
		{ID: id(6), Kind: anchor.KindWalker, Owner: id(0xb0), Type: "Visitor", Created: 11, Updated: 11,
			Access: anchor.Access{Roots: map[anchor.ID]anchor.Level{root: anchor.NoAccess}}},
		set(&anchor.Anchor{ID: id(7), Kind: anchor.KindObject, Owner: root, Type: "", Created: 12, Updated: 13}, "m", map[string]any{"k": []any{1, "two", 3.0}}),
	}
}

func mustMarshal(tb testing.TB, a *anchor.Anchor) []byte {
	b, err := anchor.Marshal(a)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// FuzzUnmarshal: whatever the bytes, Unmarshal returns an anchor or an
// *anchor.Error naming the key and wrapping ErrCorrupt (ErrVersion exactly
// when the checksum holds and the version byte is another), never panics;
// a record it accepts survives Marshal/Unmarshal unchanged; and it agrees
// with the reflection decoder it replaced (anchor.UnmarshalReflect, see
// decode_oracle_test.go): both fail alike, or both return equal anchors.
//
// key is the ID the record is stored under (padded or cut to 16 bytes).
// With sealed, rec is taken as a payload and given a valid header first,
// so the fuzzer reaches the msgpack decoder instead of the checksum.
func FuzzUnmarshal(f *testing.F) {
	for _, a := range seedAnchors() {
		rec := mustMarshal(f, a)
		f.Add(a.ID[:], rec, false)
		f.Add(a.ID[:], rec[5:], true)
	}
	a := seedAnchors()[1]
	rec := mustMarshal(f, a)
	f.Add(a.ID[:], []byte{}, false)
	f.Add(a.ID[:], rec[:3], false)
	f.Add(a.ID[:], seal(anchor.FormatOutOfLine+1, rec[5:]), false)
	f.Add(a.ID[:], []byte{0x80}, true)                  // empty map
	f.Add(a.ID[:], []byte{0x81, 0xa1, 'k', 0x09}, true) // kind 9
	f.Add(make([]byte, 16), rec, false)                 // stored under another key

	f.Fuzz(func(t *testing.T, key, rec []byte, sealed bool) {
		var id anchor.ID
		copy(id[:], key)
		if sealed {
			rec = seal(anchor.FormatVersion, rec)
		}
		sameDecode(t, id, rec)
		a, err := anchor.Unmarshal(id, rec)
		if err != nil {
			checkDecodeError(t, id, rec, a, err)
			return
		}
		if a == nil || a.ID != id || !a.Kind.Valid() {
			t.Fatalf("accepted a record with no anchor, another ID or an invalid kind: %+v", a)
		}
		roundTrip(t, a)
		sameEncode(t, a) // what the fuzzer decodes, both encoders write alike
	})
}

func checkDecodeError(t *testing.T, id anchor.ID, rec []byte, a *anchor.Anchor, err error) {
	t.Helper()
	if a != nil {
		t.Fatalf("returned an anchor with the error %v", err)
	}
	var ae *anchor.Error
	if !errors.As(err, &ae) || ae.ID != id {
		t.Fatalf("error %v (%T) is not an *anchor.Error naming %s", err, err, id)
	}
	intact := len(rec) >= 5 && binary.LittleEndian.Uint32(rec[1:5]) == crc32.Checksum(rec[5:], castagnoli)
	switch {
	case intact && rec[0] != anchor.FormatVersion && rec[0] != anchor.FormatOutOfLine:
		if !errors.Is(err, anchor.ErrVersion) {
			t.Fatalf("intact record of version %d: got %v, want ErrVersion", rec[0], err)
		}
	case !errors.Is(err, anchor.ErrCorrupt):
		t.Fatalf("got %v, want ErrCorrupt", err)
	}
	if strings.Contains(err.Error(), "decoder panic") {
		// Unmarshal recovered a panic inside msgpack: not a crash, but the
		// input is worth keeping (the fuzzer cannot see it otherwise).
		t.Logf("msgpack panicked (recovered): %v", err)
	}
}

// roundTrip checks that an accepted anchor encodes and decodes to the same
// anchor, and that a second round changes nothing.
func roundTrip(t *testing.T, a *anchor.Anchor) {
	t.Helper()
	b2, err := anchor.Marshal(a)
	if err != nil {
		t.Fatalf("Marshal of an anchor Unmarshal accepted: %v", err)
	}
	a2, err := anchor.Unmarshal(a.ID, b2)
	if err != nil {
		t.Fatalf("Unmarshal(Marshal(a)): %v", err)
	}
	if d := anchorDiff(a, a2); d != "" {
		t.Fatalf("round trip changed the anchor: %s\nbefore %+v\nafter  %+v", d, a, a2)
	}
	b3, err := anchor.Marshal(a2)
	if err != nil {
		t.Fatal(err)
	}
	a3, err := anchor.Unmarshal(a.ID, b3)
	if err != nil {
		t.Fatalf("second round: %v", err)
	}
	if d := anchorDiff(a2, a3); d != "" {
		t.Fatalf("second round changed the anchor: %s", d)
	}
	// Encoding is deterministic (TestMarshalDeterministic), so the bytes
	// are stable too.
	if !bytes.Equal(b2, b3) {
		t.Fatalf("Marshal(Unmarshal(Marshal(a))) differs from Marshal(a):\n%x\n%x", b2, b3)
	}
}

// anchorDiff compares two anchors as the engine sees them: absent and empty
// maps are the same, and endpoints count only on edges (Marshal writes them
// only for edges).
func anchorDiff(a, b *anchor.Anchor) string {
	switch {
	case a.ID != b.ID, a.Kind != b.Kind, a.Owner != b.Owner, a.Type != b.Type:
		return "identity"
	case a.Created != b.Created, a.Updated != b.Updated, a.Deleted != b.Deleted, !maps.Equal(a.AccessStamps, b.AccessStamps):
		return "stamps"
	case !a.Access.Equal(b.Access):
		return "access"
	case a.Undirected != b.Undirected:
		return "undirected"
	case a.Kind == anchor.KindEdge && (a.Source != b.Source || a.Target != b.Target):
		return "endpoints"
	case len(a.Fields) != len(b.Fields):
		return "field count"
	}
	for name, f := range a.Fields {
		g, ok := b.Fields[name]
		if !ok || g.Stamp != f.Stamp || g.Origin != f.Origin || !bytes.Equal(g.Value, f.Value) {
			return "field " + name
		}
	}
	return ""
}

// decodeTargets are the types a field is commonly read into. Each fuzz
// input is decoded into every one of them.
func decodeTargets() []any {
	type profile struct {
		Name  string
		Age   int
		Tags  []string
		Attrs map[string]string
		Score *float64
	}
	return []any{
		new(any), new(string), new(int), new(int8), new(uint64), new(float32), new(float64),
		new(bool), new([]byte), new([]string), new(map[string]any), new(map[string]int),
		new(profile), new(time.Time), new(anchor.ID), new([4]byte), new(anchor.Access),
	}
}

// FuzzDecodeValue: DecodeValue returns nil or an error wrapping
// ErrFieldType for any bytes and any target, never panics; a value that
// decodes into `any` encodes again to something that decodes to the same.
func FuzzDecodeValue(f *testing.F) {
	for _, a := range seedAnchors() {
		for _, fld := range a.Fields {
			f.Add(fld.Value)
		}
	}
	for _, v := range []any{"", "alice", 0, -1, 1 << 40, 3.25, true, nil, []int{1, 2}, map[string]any{"a": 1, "b": []any{"c"}},
		time.Unix(1700000000, 5).UTC(), anchor.Access{All: anchor.Write}} {
		b, err := anchor.EncodeValue(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xc1})                   // never-used code
	f.Add([]byte{0xd9, 0xff})             // str8 announcing 255 bytes, none follow
	f.Add([]byte{0xdc, 0x00, 0x03, 0x01}) // array16 of 3, one present
	f.Add([]byte{0xd4, 0xff, 0x00})       // fixext1: timestamp extension, wrong size

	f.Fuzz(func(t *testing.T, b []byte) {
		for _, target := range decodeTargets() {
			err := anchor.DecodeValue(b, target)
			if err != nil && !errors.Is(err, anchor.ErrFieldType) {
				t.Fatalf("decode into %T: %v does not wrap ErrFieldType", target, err)
			}
		}
		var v any
		if anchor.DecodeValue(b, &v) != nil {
			return
		}
		enc, err := anchor.EncodeValue(v)
		if err != nil {
			t.Fatalf("a value DecodeValue produced (%#v) does not encode: %v", v, err)
		}
		var w any
		if err := anchor.DecodeValue(enc, &w); err != nil {
			t.Fatalf("re-encoded value does not decode: %v", err)
		}
		enc2, err := anchor.EncodeValue(w)
		if err != nil || !bytes.Equal(enc, enc2) && !mapsInside(v) {
			t.Fatalf("value not stable through encode/decode: %x then %x (%v)", enc, enc2, err)
		}
	})
}

// mapsInside reports whether v holds a map with two or more entries, whose
// encoding order EncodeValue does not fix (see TestEncodeValueDeterministic).
func mapsInside(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		if len(x) > 1 {
			return true
		}
		for _, e := range x {
			if mapsInside(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if mapsInside(e) {
				return true
			}
		}
	}
	return false
}

// TestMarshalDeterministic pins a bug (fixed in 909a813): Marshal asked
// msgpack to sort map keys, but msgpack v5 sorts only map[string]string,
// map[string]bool and map[string]any, so Fields and Access.Roots were
// written in Go's random map order and one anchor encoded to different
// bytes from call to call.
func TestMarshalDeterministic(t *testing.T) {
	for _, a := range seedAnchors() {
		first := mustMarshal(t, a)
		for range 50 {
			if b := mustMarshal(t, a); !bytes.Equal(b, first) {
				t.Fatalf("%s (%d fields, %d grants) encodes differently on two calls:\n%x\n%x",
					a, len(a.Fields), len(a.Access.Roots), first, b)
			}
		}
	}
}

// TestDecodeValueHeaderAllocation pins a bug FuzzDecodeValue found (fixed
// in 909a813 by checking the msgpack before decoding it): DecodeValue
// allocated whatever an array, map or bin header announced before reading
// one element, so a few bytes of field value killed the process; the
// runtime's out-of-memory error is fatal and DecodeValue's recover cannot
// catch it. The fuzzer's inputs:
//
//   - dd b4 07 bb 70 ... (array32 of 3e9) into any: make([]any, 0, n) asks
//     for 48 GiB, "fatal error: runtime: out of memory" at once
//     (testdata/fuzz/FuzzDecodeValue/d176424ed1dfcb42). Into []int the same:
//     msgpack v5.4.1's reflect slice decoder tests
//     `flags&disableAllocLimitFlag != 1`, always true, so its own 1e6
//     element limit never applies.
//
//   - c6 69 30 00 30 (bin32 of 1.7 GB): killed the fuzz worker
//     (testdata/fuzz/FuzzDecodeValue/dc57a8b44901f5ae).
//
//   - df 88 88 88 88 ... (map32 of 2.3e9) into any or map[string]any:
//     DecodeMap calls make(map[string]any, n) unbounded and the runtime
//     initialises the table, so the process grew to 24 GB resident and the
//     kernel's global OOM killer killed it. That input is kept in
//     testdata/crashers/, out of the seed corpus on purpose: should the fix
//     regress, replaying it would exhaust the memory of the whole machine
//     and the OOM killer might pick other processes. The 2M-entry header
//     below stands in for it.
//
//   - d7 30 df 30 00 00 30 30 30 30 into map[string]any, found after that
//     fix (fixed in 68a79e2): checkMsgpack took fixext8 (d7) as an opaque
//     8-byte payload, but msgpack's DecodeMapLen skips an extension header
//     and reads a map header from the payload, so make(map[string]any,
//     805M) ran: "fatal error: out of memory" under a 6 GB address-space
//     limit, the OOM killer without one. Any ext form worked (c7 05 30 df
//     ... too). Kept in testdata/crashers/ for the same reason as the map32
//     input; the extMap case below stands in for it.
//
// A field value is user data and arrives from other replicas: a few bytes
// must not be able to kill the process.
func TestDecodeValueHeaderAllocation(t *testing.T) {
	var (
		array  = []byte{0xdd, 0x00, 0x80, 0x00, 0x00}
		hmap   = []byte{0xdf, 0x00, 0x20, 0x00, 0x00}
		extMap = []byte{0xd7, 0x30, 0xdf, 0x00, 0x20, 0x00, 0x00, 0x30, 0x30, 0x30}
	)
	for _, tc := range []struct {
		in     []byte
		target any
	}{{array, new(any)}, {array, new([]int)}, {hmap, new(any)}, {hmap, new(map[string]any)}, {extMap, new(map[string]any)}} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		err := anchor.DecodeValue(tc.in, tc.target)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("% x into %T: a header announcing millions of elements with none following decoded", tc.in, tc.target)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 16<<20 {
			t.Errorf("decoding the %d bytes % x into %T allocated %d MiB before failing (%v)", len(tc.in), tc.in, tc.target, n>>20, err)
		}
	}
}

// TestDeepNestingDoesNotCrash pins a bug (fixed in 909a813): msgpack
// decodes (and skips) nested arrays recursively without a depth limit, so a
// few MiB of 0x91 bytes (an array holding an array holding ...) overflowed
// the goroutine stack: "fatal error: stack overflow", which no recover
// catches. It killed the process in DecodeValue (into any) and in
// Unmarshal, where the nesting hides under a key the record layout does not
// have and is skipped (a record with a valid checksum, 8 MiB). The decoding
// runs in a child process so that a regression fails this test instead of
// killing the test binary.
func TestDeepNestingDoesNotCrash(t *testing.T) {
	if what, ok := childproc.Role(); ok {
		nested := append(bytes.Repeat([]byte{0x91}, 8<<20), 0x01)
		switch what {
		case "decode":
			var v any
			err := anchor.DecodeValue(nested, &v)
			t.Logf("DecodeValue returned %v", err)
		case "unmarshal":
			id := anchor.NewID()
			payload := append([]byte{0x81, 0xa2, 'z', 'z'}, nested...)
			_, err := anchor.Unmarshal(id, seal(anchor.FormatVersion, payload))
			t.Logf("Unmarshal returned %v", err)
		}
		return
	}
	for _, what := range []string{"decode", "unmarshal"} {
		t.Run(what, func(t *testing.T) {
			cmd := childproc.Command(t, "TestDeepNestingDoesNotCrash", what)
			out, err := cmd.CombinedOutput()
			if err != nil {
				msg := string(out)
				if i := strings.Index(msg, "fatal error"); i >= 0 {
					msg = msg[i:min(len(msg), i+200)]
				}
				t.Fatalf("%s of 8 MiB of nested arrays crashed the process (%v): %s", what, err, msg)
			}
		})
	}
}

// TestEncodeValueDeterministic pins a bug (fixed in 0f39752): EncodeValue
// called msgpack.Marshal without sorting map keys, so a value holding a map
// with two or more entries (map[string]any, or a struct with a map field)
// encoded to different bytes from call to call. Field changes are detected
// by comparing bytes (delta.Diff, and delta.Apply's "same value: nothing to
// re-stamp"), so a walker that set such a field to the value it already
// had wrote it again, re-stamping and re-logging it, contrary to "nothing
// unchanged is re-stamped or re-logged"; replicas holding equal values saw
// different ones. See delta's TestDiffSameMapValue for the effect.
func TestEncodeValueDeterministic(t *testing.T) {
	type prefs struct{ Flags map[string]bool }
	for _, v := range []any{
		map[string]any{"a": 1, "b": 2, "c": 3, "d": 4},
		map[string]int{"x": 1, "y": 2, "z": 3},
		prefs{Flags: map[string]bool{"dark": true, "beta": false, "mail": true}},
	} {
		first, err := anchor.EncodeValue(v)
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			if b, _ := anchor.EncodeValue(v); !bytes.Equal(b, first) {
				t.Fatalf("%#v encodes differently on two calls:\n%x\n%x", v, first, b)
			}
		}
	}
}
