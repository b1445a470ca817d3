package delta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strings"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/anchorage-db/anchorage/anchor"
)

// Secondary indexes. Apply keeps them in the same transaction as the data
// they index, as entries in one ordered key space of the driver (Tx.PutIndex,
// Reader.Index). Every entry but a held edge's is a pure function of one
// stored anchor (entries), so an index never disagrees with the data:
// Verify rebuilds them from the anchors and compares. Tombstones have no
// entries.
//
// Keys (names never hold a NUL byte, so 0 ends them):
//
//	'a' type 0 id                          every live anchor, by archetype
//	'e' node dir type 0 created edge       -> peer owner flags: a node's edges by direction and type, in creation order
//	'f' type 0 field 0 len value id        a declared (archetype, field) index
//	'u' type 0 field 0 value               -> id: a declared unique index
//	'g' node type 0                        -> edge: a declared create-once edge type
//	'h' awaited edge sum                   -> flags root record: a held edge (see CountHeld), the one kind implied by no anchor
//
// created is the edge's Created stamp (big-endian), which every replica
// shares, so a node's edges come back in the order they were created,
// whatever scheme made their IDs. Each stored value starts with a CRC-32C
// of key and value, checked on every read.
const (
	keyArchetype = 'a'
	keyEdge      = 'e'
	keyField     = 'f'
	keyUnique    = 'u'
	keyOnce      = 'g'
)

// IndexesKey is the small value declaring a store's secondary indexes
// (msgpack of Indexes).
const IndexesKey = "delta/indexes"

// Indexes are the secondary indexes a store declares beyond the ones it
// always keeps (archetype, edges by type and creation order).
type Indexes struct {
	// Fields are (archetype, field) indexes: anchors of Type found by the
	// value of Field. A Unique one refuses a second live anchor of Type
	// with the same value (anchor.ErrUnique).
	Fields []FieldIndex `msgpack:"f"`
	// Once are create-once edge types: a node has at most one live
	// outgoing edge of each (a root's profile). A second is refused with
	// anchor.ErrUnique; Batch.Once makes find-or-create one call.
	Once []string `msgpack:"o"`
}

// FieldIndex declares an index on the field Field of anchors of archetype
// Type. Lookups find equal values, not ranges: numbers are equal by value
// whatever Go type wrote them, anything else by its encoded bytes.
type FieldIndex struct {
	Type   string `msgpack:"t"`
	Field  string `msgpack:"n"`
	Unique bool   `msgpack:"u"`
}

func (f FieldIndex) String() string {
	s := f.Type + "." + f.Field
	if f.Unique {
		s += " (unique)"
	}
	return s
}

// Empty reports whether ix declares nothing.
func (ix *Indexes) Empty() bool { return ix == nil || (len(ix.Fields) == 0 && len(ix.Once) == 0) }

// field returns the declared index on (typ, field), if any.
func (ix *Indexes) field(typ, field string) (FieldIndex, bool) {
	for _, f := range ix.Fields {
		if f.Type == typ && f.Field == field {
			return f, true
		}
	}
	return FieldIndex{}, false
}

// IsOnce reports whether edge type typ is declared create-once.
func (ix *Indexes) IsOnce(typ string) bool { return slices.Contains(ix.Once, typ) }

func (ix *Indexes) validate() error {
	for _, f := range ix.Fields {
		if err := anchor.ValidName("type", f.Type); err != nil {
			return err
		}
		if err := anchor.ValidName("field", f.Field); err != nil {
			return err
		}
	}
	for _, t := range ix.Once {
		if err := anchor.ValidName("type", t); err != nil {
			return err
		}
	}
	return nil
}

// EncodeIndexes returns the IndexesKey value declaring ix, sorted: a
// CRC-32C, then msgpack (a damaged declaration must not read as another).
func EncodeIndexes(ix Indexes) ([]byte, error) {
	if err := ix.validate(); err != nil {
		return nil, err
	}
	slices.SortFunc(ix.Fields, func(a, b FieldIndex) int {
		return strings.Compare(a.Type+"\x00"+a.Field, b.Type+"\x00"+b.Field)
	})
	slices.Sort(ix.Once)
	b, err := msgpack.Marshal(&ix)
	if err != nil {
		return nil, err
	}
	return sealEntry([]byte(IndexesKey), b), nil
}

// DecodeIndexes reads an IndexesKey value (nil or empty: none declared).
func DecodeIndexes(raw []byte) (Indexes, error) {
	var ix Indexes
	if len(raw) == 0 {
		return ix, nil
	}
	b, err := OpenEntry([]byte(IndexesKey), raw)
	if err != nil {
		return ix, fmt.Errorf("%w: the index declaration fails its checksum", anchor.ErrCorrupt)
	}
	if err := msgpack.Unmarshal(b, &ix); err != nil {
		return ix, fmt.Errorf("%w: %s: %v", anchor.ErrCorrupt, IndexesKey, err)
	}
	return ix, nil
}

// entry is one index entry: key and value (without its checksum).
type entry struct{ k, v []byte }

// entries returns every index entry the stored anchor a gives rise to
// under ix, in no particular order.
func (ix *Indexes) entries(a *anchor.Anchor) []entry {
	if a == nil || !a.Live() {
		return nil
	}
	out := []entry{{k: ArchetypeKey(a.Type, a.ID)}}
	if a.Kind == anchor.KindEdge {
		for _, r := range a.Adjacency() {
			out = append(out, entry{k: edgeKey(r.Node, r.Dir, r.Type, a.Created, r.Edge), v: edgeValue(r, a)})
		}
		if ix.IsOnce(a.Type) && !a.Undirected {
			out = append(out, entry{k: OnceKey(a.Source, a.Type), v: a.ID[:]})
		}
	}
	for _, f := range ix.Fields {
		if f.Type != a.Type {
			continue
		}
		fv, ok := a.Fields[f.Field]
		if !ok {
			continue
		}
		v := indexValue(fv.Value)
		if f.Unique {
			out = append(out, entry{k: UniqueKey(f.Type, f.Field, v), v: a.ID[:]})
		} else {
			out = append(out, entry{k: append(FieldPrefix(f.Type, f.Field, v), a.ID[:]...)})
		}
	}
	return out
}

// StoredEntries returns every index entry the stored anchor a gives rise to
// under ix, as Apply stores them: keys, and values sealed with their
// checksum. For tools and benchmarks that write or compare raw entries.
func (ix *Indexes) StoredEntries(a *anchor.Anchor) (keys, values [][]byte) {
	for _, e := range ix.entries(a) {
		keys, values = append(keys, e.k), append(values, sealEntry(e.k, e.v))
	}
	return keys, values
}

// indexValue is a field value as an index keys it: a number in one form
// whatever Go type wrote it (36 as int, int64, uint8 or float64 36.0 is the
// same key), anything else as stored.
func indexValue(b []byte) []byte {
	var v any
	if len(b) == 0 || msgpack.Unmarshal(b, &v) != nil {
		return b
	}
	var n int64
	switch x := v.(type) {
	case int8:
		n = int64(x)
	case int16:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case uint8:
		n = int64(x)
	case uint16:
		n = int64(x)
	case uint32:
		n = int64(x)
	case uint64:
		if x > math.MaxInt64 {
			return b
		}
		n = int64(x)
	case float64:
		if x != math.Trunc(x) || math.Abs(x) >= 1<<63 {
			return b
		}
		n = int64(x)
	case float32:
		if float64(x) != math.Trunc(float64(x)) || math.Abs(float64(x)) >= 1<<63 {
			return b
		}
		n = int64(x)
	default:
		return b
	}
	var buf bytes.Buffer
	enc := msgpack.NewEncoder(&buf)
	enc.UseCompactInts(true)
	if enc.EncodeInt(n) != nil {
		return b
	}
	return buf.Bytes()
}

// unique reports whether k is a key with one holder (its value is the
// holder's ID).
func unique(k []byte) bool { return len(k) > 0 && (k[0] == keyUnique || k[0] == keyOnce) }

func nameKey(tag byte, names ...string) []byte {
	k := []byte{tag}
	for _, n := range names {
		k = append(append(k, n...), 0)
	}
	return k
}

// ArchetypePrefix is the key prefix of every live anchor of archetype typ.
func ArchetypePrefix(typ string) []byte { return nameKey(keyArchetype, typ) }

// ArchetypeKey is the archetype entry of anchor id.
func ArchetypeKey(typ string, id anchor.ID) []byte { return append(ArchetypePrefix(typ), id[:]...) }

// EdgePrefix is the key prefix of node's edges of direction dir and type
// typ (every type when typ is "").
func EdgePrefix(node anchor.ID, dir anchor.Direction, typ string) []byte {
	k := append(append([]byte{keyEdge}, node[:]...), byte(dir))
	if typ != "" {
		k = append(append(k, typ...), 0)
	}
	return k
}

func edgeKey(node anchor.ID, dir anchor.Direction, typ string, created anchor.HLC, edge anchor.ID) []byte {
	k := EdgePrefix(node, dir, typ)
	k = binary.BigEndian.AppendUint64(k, uint64(created))
	return append(k, edge[:]...)
}

// flagPublic marks an edge every root may read: a walker listing it need
// not load it to check Read.
const flagPublic = 1

// edgeValue is the value an edge entry starts with: peer, the edge's owner,
// its flags.
func edgeValue(r anchor.Adj, e *anchor.Anchor) []byte {
	v := make([]byte, 0, 33)
	v = append(append(v, r.Peer[:]...), e.Owner[:]...)
	return append(v, publicFlag(e))
}

func publicFlag(e *anchor.Anchor) byte {
	if e.Access.All < anchor.Read {
		return 0
	}
	for _, l := range e.Access.Roots {
		if l < anchor.Read {
			return 0
		}
	}
	return flagPublic
}

// DecodeEdge decodes an edge entry (from a scan of EdgePrefix) into the row
// it stands for, the edge's owner and whether every root may read it.
func DecodeEdge(k, v []byte) (r anchor.Adj, owner anchor.ID, public bool, err error) {
	return decodeEdge(k, v, "")
}

// decodeEdge is DecodeEdge giving the row the string last when its type is
// last (no allocation for a run of rows of one type).
func decodeEdge(k, v []byte, last string) (r anchor.Adj, owner anchor.ID, public bool, err error) {
	name := func(b []byte) string {
		if string(b) == last {
			return last
		}
		return string(b)
	}
	if len(k) < 1+16+8+16 || len(v) < 33 {
		return r, owner, false, fmt.Errorf("%w: edge index entry of %d+%d bytes", anchor.ErrCorrupt, len(k), len(v))
	}
	copy(r.Node[:], k[1:17])
	copy(r.Edge[:], k[len(k)-16:])
	copy(r.Peer[:], v[:16])
	copy(owner[:], v[16:32])
	public = v[32]&flagPublic != 0
	if k[0] != keyEdge {
		return r, owner, false, fmt.Errorf("%w: not an edge index entry (%q)", anchor.ErrCorrupt, k[0])
	}
	r.Dir = anchor.Direction(k[17])
	end := bytes.IndexByte(k[18:], 0)
	if end < 0 {
		return r, owner, false, fmt.Errorf("%w: edge index key without a type", anchor.ErrCorrupt)
	}
	r.Type = name(k[18 : 18+end])
	return r, owner, public, nil
}

// FieldPrefix is the key prefix of the anchors of archetype typ whose
// field holds value (msgpack bytes) in a declared non-unique index.
func FieldPrefix(typ, field string, value []byte) []byte {
	k := binary.AppendUvarint(nameKey(keyField, typ, field), uint64(len(value)))
	return append(k, value...)
}

// UniqueKey is the key of value in the unique index on (typ, field).
func UniqueKey(typ, field string, value []byte) []byte {
	return append(nameKey(keyUnique, typ, field), value...)
}

// OnceKey is the key of node's create-once edge of type typ.
func OnceKey(node anchor.ID, typ string) []byte {
	return append(append([]byte{keyOnce}, node[:]...), nameKey(0, typ)[1:]...)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func entrySum(k, v []byte) uint32 {
	return crc32.Update(crc32.Checksum(k, castagnoli), castagnoli, v)
}

// sealEntry returns v as stored: a checksum of k and v, then v.
func sealEntry(k, v []byte) []byte {
	return append(binary.LittleEndian.AppendUint32(make([]byte, 0, 4+len(v)), entrySum(k, v)), v...)
}

// OpenEntry checks a stored entry's checksum and returns its value.
func OpenEntry(k, stored []byte) ([]byte, error) {
	if len(stored) < 4 || binary.LittleEndian.Uint32(stored) != entrySum(k, stored[4:]) {
		return nil, fmt.Errorf("%w: index entry %x fails its checksum", anchor.ErrCorrupt, k)
	}
	return stored[4:], nil
}

// holder decodes the anchor ID a unique entry's value names.
func holder(k, stored []byte) (anchor.ID, error) {
	v, err := OpenEntry(k, stored)
	if err != nil {
		return anchor.ID{}, err
	}
	if len(v) != 16 {
		return anchor.ID{}, fmt.Errorf("%w: unique index entry %x holds %d bytes", anchor.ErrCorrupt, k, len(v))
	}
	return anchor.ID(v), nil
}

// getEntry reads the one entry k, or returns nil.
func getEntry(r Reader, k []byte) ([]byte, error) {
	var out []byte
	err := r.Index(k, nil, func(kk, v []byte) error {
		if bytes.Equal(kk, k) {
			out = bytes.Clone(v)
		}
		return errStopScan
	})
	if isStop(err) {
		err = nil
	}
	return out, err
}

// IndexRange returns the key range [lo, hi) of the entries with prefix
// that sort after after (nil: all of them), for drivers whose scans take
// bounds (SQL).
func IndexRange(prefix, after []byte) (lo, hi []byte) {
	lo = prefix
	if bytes.Compare(after, prefix) >= 0 {
		lo = append(bytes.Clone(after), 0)
	}
	hi = bytes.Clone(prefix)
	for len(hi) > 0 && hi[len(hi)-1] == 0xff {
		hi = hi[:len(hi)-1]
	}
	if len(hi) == 0 {
		return lo, []byte{0xff, 0xff} // every key starts with a tag below 0xff
	}
	hi[len(hi)-1]++
	return lo, hi
}
