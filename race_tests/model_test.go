package racetests

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestModelInterleavings is a rapid state-machine test: three walkers (each
// its own tiered.Memory, one of them in optimistic mode) load, create,
// connect, disconnect, set fields, delete, Put, Commit, Abort and Forget in
// random interleavings, against a simple model of committed state that
// spells out the merge rules:
//
//   - per-field last-commit-wins: a commit writes exactly the fields its
//     walker Set since its snapshot, whatever its copy of the others says;
//   - optimistic mode: a Set field someone else changed since the walker's
//     snapshot fails the batch with ErrConflict;
//   - edges are independent key-level adds and removes;
//   - deleting a node takes its live edges with it, in the same batch;
//   - a batch is atomic: one failed check (missing or deleted anchor,
//     conflict, dangling edge) rejects it whole and changes nothing, and
//     the walker keeps its changes.
//
// After every step the stored graph (every anchor, tombstones included, and
// its fields) must equal the model and Verify must be clean; every read
// (Get, Edges) must return what the model says the walker sees. rapid logs
// the seed of a failing case (rerun with -rapid.seed); the failing case's
// database, operation history and model are saved and named in the failure.
func TestModelInterleavings(t *testing.T) {
	for _, b := range engineBackends() {
		t.Run(b.name, func(t *testing.T) {
			save := newCaseSaver(t)
			check := func(rt *rapid.T) {
				m := newMachine(t, rt, b, save)
				rt.Repeat(m.actions())
			}
			soak := soakFor(t)
			if soak == 0 {
				rapid.Check(t, check)
				return
			}
			repeat(t, 1, func(int) { rapid.Check(t, check) })
		})
	}
}

// ---------------------------------------------------------------------------
// The model

type mField struct {
	val   int
	stamp int // the model commit that last changed the value
}

type mAnchor struct {
	id        anchor.ID
	kind      anchor.Kind
	live      bool
	deletedAt int
	src, dst  anchor.ID
	fields    map[string]mField
}

func (a *mAnchor) clone() *mAnchor {
	c := *a
	c.fields = maps.Clone(a.fields)
	if c.fields == nil {
		c.fields = map[string]mField{}
	}
	return &c
}

func (a *mAnchor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s live=%v", a.kind, a.id, a.live)
	if a.kind == anchor.KindEdge {
		fmt.Fprintf(&b, " %s->%s", a.src, a.dst)
	}
	for _, k := range slices.Sorted(maps.Keys(a.fields)) {
		fmt.Fprintf(&b, " %s=%d", k, a.fields[k].val)
	}
	return b.String()
}

// mEntry is the model of one L1 entry of a walker.
type mEntry struct {
	snap *mAnchor // nil: created by the walker, never stored
	cur  *mAnchor // cur.live false: deleted by the walker
	set  map[string]bool
}

type mWalker struct {
	name       string
	mem        *tiered.Memory
	optimistic bool
	l1         map[anchor.ID]*mEntry
}

type machine struct {
	t         *testing.T
	rt        *rapid.T
	store     backend.Store
	hist      *history
	root      anchor.ID
	stamp     int
	committed map[anchor.ID]*mAnchor
	walkers   []*mWalker
	nodes     []anchor.ID // every node ID ever created, stored or not
	edges     []anchor.ID // every edge ID ever created, stored or not
}

var modelFields = []string{"a", "b"}

func newMachine(t *testing.T, rt *rapid.T, b backendCase, save *caseSaver) *machine {
	dir, err := os.MkdirTemp("", "anchorage-model-")
	if err != nil {
		t.Fatal(err)
	}
	store := b.open(t, dir)
	m := &machine{t: t, rt: rt, store: store, hist: newHistory(), committed: map[anchor.ID]*mAnchor{}}
	rt.Cleanup(func() {
		closeErr := store.Close()
		if rt.Failed() {
			save.save(dir, m.hist, map[string][]byte{"model.txt": []byte(m.dump())})
		}
		_ = os.RemoveAll(dir)
		if closeErr != nil {
			rt.Fatalf("close: %v", closeErr)
		}
	})
	m.root = anchor.NewID()
	a := &anchor.Anchor{ID: m.root, Kind: anchor.KindNode, Owner: m.root, Type: "Root"}
	if err := backendtest.Apply(ctx, store, &delta.Batch{Changes: []delta.Change{{ID: m.root, Create: a}}}); err != nil {
		rt.Fatalf("create root: %v", err)
	}
	m.stamp++
	m.committed[m.root] = &mAnchor{id: m.root, kind: anchor.KindNode, live: true, fields: map[string]mField{}}
	m.nodes = append(m.nodes, m.root)
	for i := range 3 {
		w := &mWalker{name: fmt.Sprintf("w%d", i), optimistic: i == 2, l1: map[anchor.ID]*mEntry{}}
		w.mem = tiered.New(store, m.root, &tiered.Options{Optimistic: w.optimistic})
		m.walkers = append(m.walkers, w)
	}
	return m
}

func (m *machine) dump() string {
	var b strings.Builder
	fmt.Fprintf(&b, "committed (model stamp %d):\n", m.stamp)
	for _, id := range slices.SortedFunc(maps.Keys(m.committed), func(x, y anchor.ID) int { return strings.Compare(x.String(), y.String()) }) {
		fmt.Fprintf(&b, "  %s\n", m.committed[id])
	}
	for _, w := range m.walkers {
		fmt.Fprintf(&b, "walker %s (optimistic=%v) L1:\n", w.name, w.optimistic)
		for id, e := range w.l1 {
			fmt.Fprintf(&b, "  %s: stored=%v cur=%s set=%v\n", id, e.snap != nil, e.cur, slices.Sorted(maps.Keys(e.set)))
		}
	}
	return b.String()
}

// load models tiered.Memory.load.
func (m *machine) load(w *mWalker, id anchor.ID) (*mEntry, error) {
	if e, ok := w.l1[id]; ok {
		if !e.cur.live {
			return nil, anchor.ErrDeleted
		}
		return e, nil
	}
	a := m.committed[id]
	switch {
	case a == nil:
		return nil, anchor.ErrNotFound
	case !a.live:
		return nil, anchor.ErrDeleted
	}
	e := &mEntry{snap: a.clone(), cur: a.clone(), set: map[string]bool{}}
	w.l1[id] = e
	return e, nil
}

// mChange is the model of one delta.Change.
type mChange struct {
	id     anchor.ID
	create *mAnchor
	del    bool
	set    map[string]int
	base   map[string]int
}

// write models tiered.Memory.write (Put and Commit) and delta.Apply. It
// returns nil if the batch lands, else the sentinels any failing change of
// the first failing phase could have reported (the engine reports one of
// them, depending on the order of the batch).
func (m *machine) write(w *mWalker, ids []anchor.ID) []error {
	var changes []mChange
	deletedHere := func(id anchor.ID) bool { x, ok := w.l1[id]; return ok && !x.cur.live }
	for _, id := range ids {
		e := w.l1[id]
		switch {
		case e.snap == nil && e.cur.kind == anchor.KindEdge && (deletedHere(e.cur.src) || deletedHere(e.cur.dst)):
			// A new edge to a node this walker deletes is not sent.
		case e.snap == nil:
			if e.cur.live {
				changes = append(changes, mChange{id: id, create: e.cur.clone()})
			}
		case !e.cur.live:
			changes = append(changes, mChange{id: id, del: true})
		default:
			c := mChange{id: id, set: map[string]int{}, base: map[string]int{}}
			for f := range e.set {
				c.set[f] = e.cur.fields[f].val
				c.base[f] = e.snap.fields[f].stamp
			}
			if len(c.set) > 0 {
				changes = append(changes, c)
			}
		}
	}
	if len(changes) == 0 {
		return nil
	}
	stamp := m.stamp + 1
	plan := map[anchor.ID]*mAnchor{}
	get := func(id anchor.ID) *mAnchor {
		if a, ok := plan[id]; ok {
			return a
		}
		if a := m.committed[id]; a != nil {
			plan[id] = a.clone()
			return plan[id]
		}
		return nil
	}
	live := func(id anchor.ID) error {
		a := get(id)
		switch {
		case a == nil:
			return anchor.ErrNotFound
		case !a.live:
			return anchor.ErrDeleted
		}
		return nil
	}
	tombstone := func(a *mAnchor) { a.live, a.deletedAt = false, stamp }
	phases := []func(c mChange) error{
		func(c mChange) error { // creates of nodes
			if c.create == nil || c.create.kind == anchor.KindEdge {
				return nil
			}
			if get(c.id) != nil {
				return anchor.ErrExists
			}
			n := c.create.clone()
			for f, v := range n.fields {
				n.fields[f] = mField{v.val, stamp}
			}
			plan[c.id] = n
			return nil
		},
		func(c mChange) error { // creates of edges
			if c.create == nil || c.create.kind != anchor.KindEdge {
				return nil
			}
			if get(c.id) != nil {
				return anchor.ErrExists
			}
			for _, end := range []anchor.ID{c.create.src, c.create.dst} {
				if err := live(end); err != nil {
					return err
				}
				if get(end).kind != anchor.KindNode {
					return anchor.ErrIntegrity
				}
			}
			n := c.create.clone()
			for f, v := range n.fields {
				n.fields[f] = mField{v.val, stamp}
			}
			plan[c.id] = n
			return nil
		},
		func(c mChange) error { // field updates
			if c.set == nil {
				return nil
			}
			if err := live(c.id); err != nil {
				return err
			}
			a := get(c.id)
			if w.optimistic {
				for f := range c.set {
					if a.fields[f].stamp > c.base[f] {
						return anchor.ErrConflict
					}
				}
			}
			for f, v := range c.set {
				if old, had := a.fields[f]; had && old.val == v {
					continue
				}
				a.fields[f] = mField{v, stamp}
			}
			return nil
		},
		func(c mChange) error { // deletes
			if !c.del {
				return nil
			}
			if a := get(c.id); a != nil && !a.live {
				return nil // already deleted: the outcome asked for
			}
			if err := live(c.id); err != nil {
				return err
			}
			a := get(c.id)
			if a.kind == anchor.KindNode {
				for _, id := range m.edgeIDs(plan) {
					if e := get(id); e.live && (e.src == c.id || e.dst == c.id) {
						tombstone(e)
					}
				}
			}
			tombstone(a)
			return nil
		},
	}
	for _, phase := range phases {
		var errs []error
		for _, c := range changes {
			if err := phase(c); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return errs
		}
	}
	m.stamp = stamp
	for id, a := range plan {
		m.committed[id] = a
	}
	// As tiered.Memory.write: every written change first, then the edges
	// of the nodes this batch deleted leave L1.
	var deletedNodes []anchor.ID
	for _, c := range changes {
		if c.del {
			if w.l1[c.id].cur.kind == anchor.KindNode {
				deletedNodes = append(deletedNodes, c.id)
			}
			delete(w.l1, c.id)
			continue
		}
		e := w.l1[c.id]
		for f, fv := range e.cur.fields {
			if _, sent := c.set[f]; sent || c.create != nil {
				e.cur.fields[f] = mField{fv.val, stamp}
			}
		}
		e.snap = e.cur.clone()
		clear(e.set)
	}
	for _, node := range deletedNodes {
		for eid, x := range w.l1 {
			if x.cur.kind == anchor.KindEdge && (x.cur.src == node || x.cur.dst == node) {
				delete(w.l1, eid)
			}
		}
	}
	return nil
}

// edgeIDs returns every edge ID in committed state or the plan.
func (m *machine) edgeIDs(plan map[anchor.ID]*mAnchor) []anchor.ID {
	var ids []anchor.ID
	for id, a := range m.committed {
		if a.kind == anchor.KindEdge {
			ids = append(ids, id)
		}
	}
	for id, a := range plan {
		if a.kind == anchor.KindEdge && m.committed[id] == nil {
			ids = append(ids, id)
		}
	}
	return ids
}
