package delta

import (
	"bytes"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
)

// EdgeQuery selects some of a node's edges from the index Apply keeps.
//
// Rows come in the order their edges were created (their Created stamps,
// which every replica shares; ties, the edges of one batch, by edge ID),
// whatever the query. Cost: O(log n + k) in the node's edges n and the
// rows read k, per (direction, type) group the query covers: one group
// with both Dir and Type, three with Type alone, the node's groups (one
// seek each to find them) otherwise.
type EdgeQuery struct {
	// Dir keeps rows of one direction (anchor.Out, anchor.In, anchor.Both
	// for undirected edges); 0 keeps every direction.
	Dir anchor.Direction
	// Type keeps edges of one archetype; "" keeps every type.
	Type string
	// After resumes a listing after the row whose cursor it is (nil: from
	// the first).
	After []byte
}

// EdgeEntry is one row Edges lists.
type EdgeEntry struct {
	anchor.Adj
	// Owner is the edge's owner and Public says every root may read the
	// edge: a walker acting as the owner, or any walker when Public, may
	// read the edge without loading it.
	Owner  anchor.ID
	Public bool
	// Cursor resumes a listing after this row (EdgeQuery.After): the
	// edge's creation stamp and ID. It is valid only during the call.
	Cursor []byte
}

// cursorLen is the length of a cursor: creation stamp and edge ID.
const cursorLen = 8 + 16

// mergeChunk is how many entries a merged listing reads from one group at
// a time.
const mergeChunk = 64

// Edges calls fn for each of node's rows that q selects, in creation
// order. The entry fn gets is valid only during the call (Edges reuses
// it for the next row).
func Edges(r Reader, node anchor.ID, q EdgeQuery, fn func(*EdgeEntry) error) error {
	if q.Type != "" {
		if err := anchor.ValidName("type", q.Type); err != nil {
			return err
		}
	}
	if q.After != nil && len(q.After) != cursorLen {
		return fmt.Errorf("%w: an edge cursor of %d bytes (want %d)", anchor.ErrInvalid, len(q.After), cursorLen)
	}
	var groups [][]byte
	switch {
	case q.Dir != 0 && q.Type != "":
		groups = [][]byte{EdgePrefix(node, q.Dir, q.Type)}
	case q.Type != "":
		for _, d := range []anchor.Direction{anchor.Out, anchor.In, anchor.Both} {
			groups = append(groups, EdgePrefix(node, d, q.Type))
		}
	default:
		var err error
		if groups, err = edgeGroups(r, node, q.Dir); err != nil {
			return err
		}
	}
	m := &merge{r: r, fn: fn}
	if len(groups) == 1 { // one group is in order already: stream it
		return m.stream(groups[0], q.After)
	}
	for _, g := range groups {
		m.heads = append(m.heads, &groupHead{prefix: g, after: q.After})
	}
	return m.run()
}

// stream lists one group's entries after the cursor after, as the driver
// reads them.
func (m *merge) stream(prefix, after []byte) error {
	if after != nil {
		after = append(bytes.Clone(prefix), after...)
	}
	return m.r.Index(prefix, after, func(k, v []byte) error {
		if len(k) != len(prefix)+cursorLen {
			return fmt.Errorf("%w: edge index key %x of %d bytes", anchor.ErrCorrupt, k, len(k))
		}
		return m.emit(k, v, k[len(prefix):])
	})
}

// edgeGroups finds the (direction, type) groups of node's edges (of one
// direction, unless dir is 0): one seek per group.
func edgeGroups(r Reader, node anchor.ID, dir anchor.Direction) ([][]byte, error) {
	base := append([]byte{keyEdge}, node[:]...)
	if dir != 0 {
		base = append(base, byte(dir))
	}
	var groups [][]byte
	var after []byte
	for {
		var next []byte
		err := r.Index(base, after, func(k, _ []byte) error {
			end := bytes.IndexByte(k[min(len(k), 18):], 0)
			if len(k) < 18 || end < 0 {
				return fmt.Errorf("%w: edge index key %x without a type", anchor.ErrCorrupt, k)
			}
			next = bytes.Clone(k[:18+end+1])
			return errStopScan
		})
		if err != nil && !isStop(err) {
			return nil, err
		}
		if next == nil {
			return groups, nil
		}
		groups = append(groups, next)
		// Past every key of the group: its keys are the prefix, then at
		// most a cursor's bytes.
		after = append(bytes.Clone(next), bytes.Repeat([]byte{0xff}, cursorLen+1)...)
	}
}

// groupHead is one group's place in a merged listing.
type groupHead struct {
	prefix []byte
	after  []byte      // the cursor read up to (nil: from the first)
	buf    [][2][]byte // entries read, not yet listed
	done   bool        // the group has no more entries
}

// fill reads the group's next entries.
func (g *groupHead) fill(r Reader) error {
	var after []byte
	if g.after != nil {
		after = append(bytes.Clone(g.prefix), g.after...)
	}
	g.buf = g.buf[:0]
	err := r.Index(g.prefix, after, func(k, v []byte) error {
		if len(k) != len(g.prefix)+cursorLen {
			return fmt.Errorf("%w: edge index key %x of %d bytes", anchor.ErrCorrupt, k, len(k))
		}
		g.buf = append(g.buf, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		if len(g.buf) == mergeChunk {
			return errStopScan
		}
		return nil
	})
	if err != nil && !isStop(err) {
		return err
	}
	g.done = len(g.buf) < mergeChunk
	return nil
}

// merge lists several groups' rows in one creation order.
type merge struct {
	r     Reader
	fn    func(*EdgeEntry) error
	entry EdgeEntry // the row handed to fn, reused
	heads []*groupHead
	last  string // the previous row's type: rows of one type share its string
}

func (m *merge) run() error {
	for {
		var best *groupHead
		for _, g := range m.heads {
			if len(g.buf) == 0 && !g.done {
				if err := g.fill(m.r); err != nil {
					return err
				}
			}
			if len(g.buf) == 0 {
				continue
			}
			if best == nil || bytes.Compare(g.buf[0][0][len(g.prefix):], best.buf[0][0][len(best.prefix):]) < 0 {
				best = g
			}
		}
		if best == nil {
			return nil
		}
		k, v := best.buf[0][0], best.buf[0][1]
		best.buf = best.buf[1:]
		best.after = k[len(best.prefix):]
		if err := m.emit(k, v, best.after); err != nil {
			return err
		}
	}
}

// emit checks and decodes entry k -> v and hands it to fn.
func (m *merge) emit(k, v, cursor []byte) error {
	val, err := OpenEntry(k, v)
	if err != nil {
		return err
	}
	e := &m.entry
	if e.Adj, e.Owner, e.Public, err = decodeEdge(k, val, m.last); err != nil {
		return err
	}
	m.last, e.Cursor = e.Type, cursor
	return m.fn(e)
}
