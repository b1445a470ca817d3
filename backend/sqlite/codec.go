package sqlite

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/anchorage-db/anchorage/anchor"
)

// Row layout shared by the writer and the views.

// anchorCols are the header columns of anchors (alias a) followed by the
// field columns of fields (alias f, LEFT JOINed: NULL for an anchor without
// fields).
const anchorCols = `a.kind, a.owner, a.type, a.created, a.updated, a.deleted, a.access_stamp,
	a.access, a.source, a.target, a.undirected, f.name, f.value, f.stamp, f.origin`

const (
	nHeader = 11 // header columns in anchorCols
	nCols   = 15 // all columns in anchorCols
)

const (
	sqlAnchor = `SELECT ` + anchorCols + ` FROM anchors a LEFT JOIN fields f ON f.id = a.id
	WHERE a.id = ? ORDER BY f.name`
	sqlAnchors = `SELECT a.id, ` + anchorCols + ` FROM anchors a LEFT JOIN fields f ON f.id = a.id
	ORDER BY a.id, f.name`
	sqlAdjacent  = `SELECT edge, peer, dir, type FROM adj WHERE node = ? ORDER BY edge`
	sqlAdjacency = `SELECT node, edge, peer, dir, type FROM adj ORDER BY node, edge`
	sqlChanges   = `SELECT seq, id FROM log WHERE seq > ? ORDER BY seq`
	sqlKV        = `SELECT value FROM kv WHERE key = ?`
	sqlMeta      = `SELECT (SELECT value FROM meta WHERE key = 'hlc'), (SELECT value FROM meta WHERE key = 'seq')`
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
	for i, dst := range []*anchor.HLC{&a.Created, &a.Updated, &a.Deleted, &a.AccessStamp} {
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
	var err error
	if a.Access, err = decodeAccess(acc); err != nil {
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
	switch v := c[1].(type) {
	case nil:
	case []byte:
		value = v
	default:
		return &anchor.Error{Op: "decode", ID: a.ID, Field: name, Err: fmt.Errorf("%w: field value holds %T", anchor.ErrCorrupt, c[1])}
	}
	stamp, ok := c[2].(int64)
	if !ok {
		return &anchor.Error{Op: "decode", ID: a.ID, Field: name, Err: fmt.Errorf("%w: field stamp holds %T", anchor.ErrCorrupt, c[2])}
	}
	f := anchor.Field{Value: value, Stamp: anchor.HLC(uint64(stamp))}
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
func encodeAccess(acc anchor.Access) []byte {
	b := make([]byte, 1, 1+17*len(acc.Roots))
	b[0] = byte(acc.All)
	roots := make([]anchor.ID, 0, len(acc.Roots))
	for r := range acc.Roots {
		roots = append(roots, r)
	}
	slices.SortFunc(roots, func(x, y anchor.ID) int { return bytes.Compare(x[:], y[:]) })
	for _, r := range roots {
		b = append(b, r[:]...)
		b = append(b, byte(acc.Roots[r]))
	}
	return b
}

func decodeAccess(b []byte) (anchor.Access, error) {
	var acc anchor.Access
	if len(b) == 0 || (len(b)-1)%17 != 0 {
		return acc, fmt.Errorf("%d bytes", len(b))
	}
	if acc.All = anchor.Level(b[0]); acc.All > anchor.Write {
		return acc, fmt.Errorf("level %d", b[0])
	}
	if len(b) > 1 {
		acc.Roots = make(map[anchor.ID]anchor.Level, (len(b)-1)/17)
	}
	for p := b[1:]; len(p) > 0; p = p[17:] {
		lvl := anchor.Level(p[16])
		if lvl > anchor.Write {
			return acc, fmt.Errorf("level %d", p[16])
		}
		acc.Roots[anchor.ID(p[:16])] = lvl
	}
	return acc, nil
}

// decodeAdj turns the columns (node, edge, peer, dir, type) into a row.
func decodeAdj(node, edge, peer, dir, typ any) (anchor.Adj, error) {
	var a anchor.Adj
	for _, p := range []struct {
		dst *anchor.ID
		src any
	}{{&a.Node, node}, {&a.Edge, edge}, {&a.Peer, peer}} {
		if err := idCol(p.dst, p.src); err != nil {
			return a, fmt.Errorf("%w: adjacency row %s/%s: %v", anchor.ErrCorrupt, a.Node, a.Edge, err)
		}
	}
	d, ok := dir.(int64)
	if !ok || d < int64(anchor.Out) || d > int64(anchor.Both) {
		return a, fmt.Errorf("%w: adjacency row %s/%s has direction %v", anchor.ErrCorrupt, a.Node, a.Edge, dir)
	}
	a.Dir = anchor.Direction(d)
	switch t := typ.(type) {
	case string:
		a.Type = t
	case []byte:
		a.Type = string(t)
	default:
		return a, fmt.Errorf("%w: adjacency row %s/%s has type %T", anchor.ErrCorrupt, a.Node, a.Edge, typ)
	}
	return a, nil
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
