package sqlite

import (
	"encoding/binary"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
)

// Row layout shared by the writer and the views.

// anchorCols are the header columns of anchors (alias a) followed by the
// field columns of fields (alias f, LEFT JOINed: NULL for an anchor without
// fields). Each part ends with its row's checksum columns (see rowSum).
const anchorCols = `a.kind, a.owner, a.type, a.created, a.updated, a.deleted, a.access_stamp,
	a.access, a.source, a.target, a.undirected, a.fsum, a.crc, f.name, f.value, f.stamp, f.origin, f.crc`

const (
	nDecoded = 11 // header columns decodeHeader reads
	nHeader  = 13 // header columns in anchorCols: nDecoded, fsum, crc
	nCols    = 18 // all columns in anchorCols
)

const (
	sqlAnchor = `SELECT ` + anchorCols + ` FROM anchors a LEFT JOIN fields f ON f.id = a.id
	WHERE a.id = ? ORDER BY f.name`
	sqlAnchors = `SELECT a.id, ` + anchorCols + ` FROM anchors a LEFT JOIN fields f ON f.id = a.id
	ORDER BY a.id, f.name`
	sqlChanges = `SELECT seq, id, crc FROM log WHERE seq > ? ORDER BY seq`
	sqlKV      = `SELECT value, crc FROM kv WHERE key = ?`
	sqlMeta    = `SELECT key, value, crc FROM meta WHERE key IN ('hlc', 'seq')`
)

// corrupt builds the error for a row that does not decode: an
// *anchor.Error naming the anchor and wrapping anchor.ErrCorrupt.
func corrupt(id anchor.ID, format string, args ...any) error {
	return &anchor.Error{Op: "decode", ID: id, Err: fmt.Errorf("%w: "+format, append([]any{anchor.ErrCorrupt}, args...)...)}
}

// decodeHeader turns the header columns of one anchors row into an Anchor
// without fields. Every malformed column is reported, never panicked on.
func decodeHeader(id anchor.ID, c []any) (*anchor.Anchor, error) {
	a := &anchor.Anchor{ID: id}
	kind, ok := c[0].(int64)
	if !ok || !anchor.Kind(kind).Valid() || kind > 255 {
		return nil, corrupt(id, "kind column holds %v", c[0])
	}
	a.Kind = anchor.Kind(kind)
	if err := idCol(&a.Owner, c[1]); err != nil {
		return nil, corrupt(id, "owner column: %v", err)
	}
	switch t := c[2].(type) {
	case string:
		a.Type = t
	case []byte:
		a.Type = string(t)
	default:
		return nil, corrupt(id, "type column holds %T", c[2])
	}
	var accessStamp anchor.HLC
	for i, dst := range []*anchor.HLC{&a.Created, &a.Updated, &a.Deleted, &accessStamp} {
		n, ok := c[3+i].(int64)
		if !ok {
			return nil, corrupt(id, "stamp column %d holds %T", 3+i, c[3+i])
		}
		*dst = anchor.HLC(uint64(n))
	}
	acc, ok := c[7].([]byte)
	if !ok {
		return nil, corrupt(id, "access column holds %T", c[7])
	}
	if err := decodeAccess(a, acc, accessStamp); err != nil {
		return nil, corrupt(id, "access column: %v", err)
	}
	if a.Kind == anchor.KindEdge {
		if err := idCol(&a.Source, c[8]); err != nil {
			return nil, corrupt(id, "source column: %v", err)
		}
		if err := idCol(&a.Target, c[9]); err != nil {
			return nil, corrupt(id, "target column: %v", err)
		}
	} else if c[8] != nil || c[9] != nil {
		return nil, corrupt(id, "a %s with edge endpoints", a.Kind)
	}
	switch c[10] {
	case int64(0):
	case int64(1):
		a.Undirected = true
	default:
		return nil, corrupt(id, "undirected column holds %v", c[10])
	}
	return a, nil
}

// addField adds the field held by the field columns (name, value, stamp,
// origin) to a; a NULL name means the LEFT JOIN found no field.
func addField(a *anchor.Anchor, c []any) error {
	if c[0] == nil {
		return nil
	}
	name, ok := c[0].(string)
	if !ok {
		return corrupt(a.ID, "field name holds %T", c[0])
	}
	var value []byte
	var ref *anchor.Ref
	switch v := c[1].(type) {
	case nil:
	case []byte:
		value = v
	case int64: // a value kept out of line (lazy.go)
		var ok bool
		if ref, ok = refFrom(v); !ok {
			return &anchor.Error{Op: "decode", ID: a.ID, Field: name, Err: fmt.Errorf("%w: out-of-line reference %#x", anchor.ErrCorrupt, v)}
		}
	default:
		return &anchor.Error{Op: "decode", ID: a.ID, Field: name, Err: fmt.Errorf("%w: field value holds %T", anchor.ErrCorrupt, c[1])}
	}
	stamp, ok := c[2].(int64)
	if !ok {
		return &anchor.Error{Op: "decode", ID: a.ID, Field: name, Err: fmt.Errorf("%w: field stamp holds %T", anchor.ErrCorrupt, c[2])}
	}
	f := anchor.Field{Value: value, Stamp: anchor.HLC(uint64(stamp)), Ref: ref}
	if c[3] != nil {
		if err := idCol(&f.Origin, c[3]); err != nil {
			return &anchor.Error{Op: "decode", ID: a.ID, Field: name, Err: fmt.Errorf("%w: field origin %v", anchor.ErrCorrupt, err)}
		}
	}
	if a.Fields == nil {
		a.Fields = make(map[string]anchor.Field)
	}
	a.Fields[name] = f
	return nil
}

func idCol(dst *anchor.ID, v any) error {
	b, ok := v.([]byte)
	if !ok {
		return fmt.Errorf("holds %T, want a 16-byte blob", v)
	}
	id, err := anchor.IDFromBytes(b)
	if err != nil {
		return err
	}
	*dst = id
	return nil
}

// encodeAccess lays out an Access as its All level followed by one
// (16-byte root, level) pair per grant, in root order.
// accessMarked starts the access column's current layout: the marker, the
// All level, a count and 17-byte (root, level) grants, a count and 40-byte
// (key, stamp, origin) marks, then (only when one is non-zero) the restore
// stamps: Restored, SourceEpoch and TargetEpoch, 8 bytes each. A column
// without the marker is the first layout (All, then grants), whose one
// stamp is the access_stamp column.
const accessMarked = 0xFE

func encodeAccess(a *anchor.Anchor) []byte {
	acc := a.Access
	b := make([]byte, 0, 6+17*len(acc.Roots)+40*len(a.AccessStamps))
	b = append(b, accessMarked, byte(acc.All))
	b = binary.BigEndian.AppendUint16(b, uint16(len(acc.Roots)))
	for _, r := range anchor.SortedIDs(acc.Roots) {
		b = append(b, r[:]...)
		b = append(b, byte(acc.Roots[r]))
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(a.AccessStamps)))
	for _, k := range anchor.SortedIDs(a.AccessStamps) {
		m := a.AccessStamps[k]
		b = append(b, k[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(m.At))
		b = append(b, m.Origin[:]...)
	}
	if a.Restored != 0 || a.SourceEpoch != 0 || a.TargetEpoch != 0 {
		for _, h := range []anchor.HLC{a.Restored, a.SourceEpoch, a.TargetEpoch} {
			b = binary.BigEndian.AppendUint64(b, uint64(h))
		}
	}
	return b
}

// restoreTrailer is the size of the restore stamps ending an access column.
const restoreTrailer = 3 * 8

// decodeAccess fills a's Access and AccessStamps from the access column b;
// legacy is the access_stamp column, the one stamp of the first layout.
func decodeAccess(a *anchor.Anchor, b []byte, legacy anchor.HLC) error {
	level := func(x byte) (anchor.Level, error) {
		if anchor.Level(x) > anchor.Write {
			return 0, fmt.Errorf("level %d", x)
		}
		return anchor.Level(x), nil
	}
	var err error
	if len(b) == 0 || b[0] != accessMarked {
		if len(b) == 0 || (len(b)-1)%17 != 0 {
			return fmt.Errorf("%d bytes", len(b))
		}
		if a.Access.All, err = level(b[0]); err != nil {
			return err
		}
		if legacy != 0 {
			a.AccessStamps = map[anchor.ID]anchor.Mark{anchor.SystemRoot: {At: legacy}}
		}
		for p := b[1:]; len(p) > 0; p = p[17:] {
			lvl, err := level(p[16])
			if err != nil {
				return err
			}
			a.Access.SetEntry(anchor.ID(p[:16]), lvl)
			if legacy != 0 {
				a.AccessStamps[anchor.ID(p[:16])] = anchor.Mark{At: legacy}
			}
		}
		return nil
	}
	if len(b) < 4 {
		return fmt.Errorf("%d bytes", len(b))
	}
	if a.Access.All, err = level(b[1]); err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	p := b[4:]
	if len(p) < 17*n+2 {
		return fmt.Errorf("%d bytes for %d grants", len(b), n)
	}
	for ; n > 0; n, p = n-1, p[17:] {
		lvl, err := level(p[16])
		if err != nil {
			return err
		}
		a.Access.SetEntry(anchor.ID(p[:16]), lvl)
	}
	n, p = int(binary.BigEndian.Uint16(p[:2])), p[2:]
	if len(p) == 40*n+restoreTrailer {
		t := p[40*n:]
		a.Restored = anchor.HLC(binary.BigEndian.Uint64(t))
		a.SourceEpoch = anchor.HLC(binary.BigEndian.Uint64(t[8:]))
		a.TargetEpoch = anchor.HLC(binary.BigEndian.Uint64(t[16:]))
		p = p[:40*n]
	}
	if len(p) != 40*n {
		return fmt.Errorf("%d bytes of marks for %d marks", len(p), n)
	}
	for ; n > 0; n, p = n-1, p[40:] {
		if a.AccessStamps == nil {
			a.AccessStamps = make(map[anchor.ID]anchor.Mark)
		}
		a.AccessStamps[anchor.ID(p[:16])] = anchor.Mark{At: anchor.HLC(binary.BigEndian.Uint64(p[16:24])), Origin: anchor.ID(p[24:40])}
	}
	return nil
}

// nullID is the source/target column value of an anchor: the ID for an
// edge, NULL otherwise.
func nullID(a *anchor.Anchor, id anchor.ID) any {
	if a.Kind != anchor.KindEdge {
		return nil
	}
	return id[:]
}

// nullOrigin is the origin column value of a field: NULL for this replica.
func nullOrigin(id anchor.ID) any {
	if id.IsZero() {
		return nil
	}
	return id[:]
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
