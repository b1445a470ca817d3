package crash_tests

import (
	"fmt"
	"sort"
	"strconv"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// model is the graph the parent expects, built only from the child's
// BEGIN/ACK lines.
type model struct {
	root  anchor.ID
	rootN int
	nodes map[anchor.ID]*mNode
	edges map[anchor.ID]*mEdge
}

type mNode struct {
	n, born int
	by      int // the commit that last set n, for messages
	live    bool
}

type mEdge struct {
	src, dst anchor.ID
	typ      string
	n        int // field n; 0 means the edge has no fields
	by       int // the commit that created it
	live     bool
}

func newModel(root anchor.ID) *model {
	return &model{root: root, nodes: map[anchor.ID]*mNode{}, edges: map[anchor.ID]*mEdge{}}
}

func (m *model) clone() *model {
	c := newModel(m.root)
	c.rootN = m.rootN
	for id, n := range m.nodes {
		x := *n
		c.nodes[id] = &x
	}
	for id, e := range m.edges {
		x := *e
		c.edges[id] = &x
	}
	return c
}

// apply adds commit r to the model. It fails only on a protocol error (a
// record naming anchors the model does not know, or in the wrong state),
// which means the child and the model disagree before the store is even
// looked at.
func (m *model) apply(r commitRec) error {
	if r.I != m.rootN+1 {
		return fmt.Errorf("commit %d follows %d", r.I, m.rootN)
	}
	node, edge := anchor.ID(r.Node), anchor.ID(r.Edge)
	if m.nodes[node] != nil || m.edges[edge] != nil {
		return fmt.Errorf("commit %d re-creates %s or %s", r.I, node, edge)
	}
	m.rootN = r.I
	m.nodes[node] = &mNode{n: r.I, born: r.I, by: r.I, live: true}
	m.edges[edge] = &mEdge{src: m.root, dst: node, typ: "C" + strconv.Itoa(r.I), n: r.I, by: r.I, live: true}
	for _, id := range r.Set {
		n := m.nodes[anchor.ID(id)]
		if n == nil || !n.live {
			return fmt.Errorf("commit %d sets n on %s, which is not a live node", r.I, anchor.ID(id))
		}
		n.n, n.by = r.I, r.I
	}
	if x := r.Cross; x != nil {
		for _, end := range []idText{x.Src, x.Dst} {
			if n := m.nodes[anchor.ID(end)]; n == nil || !n.live {
				return fmt.Errorf("commit %d connects %s, which is not a live node", r.I, anchor.ID(end))
			}
		}
		m.edges[anchor.ID(x.ID)] = &mEdge{src: anchor.ID(x.Src), dst: anchor.ID(x.Dst), typ: "X" + strconv.Itoa(r.I), by: r.I, live: true}
	}
	for _, id := range r.Disconnect {
		e := m.edges[anchor.ID(id)]
		if e == nil || !e.live {
			return fmt.Errorf("commit %d disconnects %s, which is not a live edge", r.I, anchor.ID(id))
		}
		e.live = false
	}
	for _, id := range r.Delete {
		n := m.nodes[anchor.ID(id)]
		if n == nil || !n.live {
			return fmt.Errorf("commit %d deletes %s, which is not a live node", r.I, anchor.ID(id))
		}
		n.live = false
		for _, e := range m.edges {
			if e.src == anchor.ID(id) || e.dst == anchor.ID(id) {
				e.live = false
			}
		}
	}
	return nil
}

const maxDiffs = 12

// diff compares the stored state seen through v with the model, exactly,
// and describes every difference (at most maxDiffs of them).
func (m *model) diff(v backend.View) []string {
	var out []string
	add := func(format string, args ...any) {
		if len(out) < maxDiffs {
			out = append(out, fmt.Sprintf(format, args...))
		}
	}
	field := func(a *anchor.Anchor, name string) (int, bool) {
		var x int
		if err := a.Field(name, &x); err != nil {
			return 0, false
		}
		return x, true
	}

	root, err := v.Anchor(m.root)
	switch {
	case err != nil:
		add("root %s: %v", m.root, err)
	case !root.Live():
		add("root %s is deleted", m.root)
	default:
		n, ok := field(root, "n")
		if m.rootN == 0 && ok || m.rootN != 0 && n != m.rootN {
			add("root field n = %d (present %v), want %d", n, ok, m.rootN)
		}
	}

	ids := make([]anchor.ID, 0, len(m.nodes))
	for id := range m.nodes {
		ids = append(ids, id)
	}
	sortIDs(ids)
	for _, id := range ids {
		want := m.nodes[id]
		a, err := v.Anchor(id)
		if err != nil {
			add("node %s (born in commit %d): %v", id, want.born, err)
			continue
		}
		if a.Kind != anchor.KindNode || a.Type != "Item" || a.Owner != m.root {
			add("node %s (commit %d) is a %s %q owned by %s", id, want.born, a.Kind, a.Type, a.Owner)
		}
		if a.Live() != want.live {
			add("node %s (commit %d): live = %v, want %v", id, want.born, a.Live(), want.live)
		}
		if n, _ := field(a, "n"); n != want.n {
			add("node %s: field n = %d, want %d (set by commit %d)", id, n, want.n, want.by)
		}
		if b, _ := field(a, "born"); b != want.born {
			add("node %s: field born = %d, want %d", id, b, want.born)
		}
	}

	ids = ids[:0]
	for id := range m.edges {
		ids = append(ids, id)
	}
	sortIDs(ids)
	rows := map[anchor.ID]map[anchor.ID]anchor.Adj{} // node -> edge -> row
	for _, id := range ids {
		want := m.edges[id]
		if want.live {
			e := &anchor.Anchor{ID: id, Source: want.src, Target: want.dst, Type: want.typ}
			for _, r := range e.Adjacency() {
				if rows[r.Node] == nil {
					rows[r.Node] = map[anchor.ID]anchor.Adj{}
				}
				rows[r.Node][id] = r
			}
		}
		a, err := v.Anchor(id)
		if err != nil {
			add("edge %s %s (commit %d): %v", want.typ, id, want.by, err)
			continue
		}
		if a.Kind != anchor.KindEdge || a.Type != want.typ || a.Source != want.src || a.Target != want.dst || a.Undirected {
			add("edge %s %s is a %s %q %s -> %s", want.typ, id, a.Kind, a.Type, a.Source, a.Target)
		}
		if a.Live() != want.live {
			add("edge %s %s (commit %d): live = %v, want %v", want.typ, id, want.by, a.Live(), want.live)
		}
		if n, ok := field(a, "n"); n != want.n || ok != (want.n != 0) {
			add("edge %s %s: field n = %d (present %v), want %d", want.typ, id, n, ok, want.n)
		}
	}

	holders := append([]anchor.ID{m.root}, keys(m.nodes)...)
	for _, node := range holders {
		got := map[anchor.ID]anchor.Adj{}
		err := v.Adjacent(node, func(r anchor.Adj) error { got[r.Edge] = r; return nil })
		if err != nil {
			add("adjacency of %s: %v", node, err)
			continue
		}
		for e, w := range rows[node] {
			if g, ok := got[e]; !ok {
				add("node %s lacks the adjacency row for edge %s %s (commit %d)", node, w.Type, e, m.edges[e].by)
			} else if g != w {
				add("node %s: adjacency row %+v, want %+v", node, g, w)
			}
		}
		for e, g := range got {
			if _, ok := rows[node][e]; !ok {
				add("node %s holds a stray adjacency row for edge %s %s", node, g.Type, e)
			}
		}
	}

	stored := 0
	err = v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
		stored++
		if err != nil {
			add("record %s: %v", id, err)
		} else if id != m.root && m.nodes[id] == nil && m.edges[id] == nil {
			add("stray anchor %s (%s %q) that no commit created", id, a.Kind, a.Type)
		}
		return nil
	})
	if err != nil {
		add("scanning anchors: %v", err)
	}
	if want := 1 + len(m.nodes) + len(m.edges); stored != want {
		add("%d anchors stored, want %d", stored, want)
	}
	return out
}

func keys[V any](m map[anchor.ID]V) []anchor.ID {
	ids := make([]anchor.ID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sortIDs(ids)
	return ids
}

func sortIDs(ids []anchor.ID) {
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
}
