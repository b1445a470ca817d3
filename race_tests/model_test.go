package racetests

import (
	"errors"
	"fmt"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
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

// ---------------------------------------------------------------------------
// Actions

func (m *machine) walker() *mWalker {
	return m.walkers[rapid.IntRange(0, len(m.walkers)-1).Draw(m.rt, "walker")]
}

func (m *machine) pick(label string, ids []anchor.ID) anchor.ID {
	return rapid.SampledFrom(ids).Draw(m.rt, label)
}

func (m *machine) anyID() anchor.ID {
	if len(m.edges) > 0 && rapid.Bool().Draw(m.rt, "edge?") {
		return m.pick("edge", m.edges)
	}
	return m.pick("node", m.nodes)
}

// expect fails unless the engine's err matches the model's: nil for nil,
// else a typed error wrapping one of the sentinels the model allows.
func (m *machine) expect(op string, err error, want ...error) {
	m.rt.Helper()
	if len(want) == 0 {
		if err != nil {
			m.rt.Fatalf("%s: engine error %v, model expects success\n%s", op, err, m.dump())
		}
		return
	}
	if err == nil {
		m.rt.Fatalf("%s: engine succeeded, model expects one of %v\n%s", op, want, m.dump())
	}
	var ae *anchor.Error
	if !errors.As(err, &ae) {
		m.rt.Fatalf("%s: engine error %v is not an *anchor.Error", op, err)
	}
	for _, w := range want {
		if errors.Is(err, w) {
			return
		}
	}
	m.rt.Fatalf("%s: engine error %v, model expects one of %v\n%s", op, err, want, m.dump())
}

func errList(err error) []error {
	if err == nil {
		return nil
	}
	return []error{err}
}

func (m *machine) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"get": func(*rapid.T) {
			w, id := m.walker(), m.anyID()
			got, err := w.mem.Get(ctx, id)
			m.hist.add(w.name, "get %s -> %v", id, err)
			e, want := m.load(w, id)
			m.expect("get", err, errList(want)...)
			if err == nil {
				m.compareCopy(w, got, e.cur)
			}
		},
		"create": func(*rapid.T) {
			w := m.walker()
			fields := m.drawFields()
			id, err := w.mem.Create(anchor.KindNode, "N", fields)
			m.hist.add(w.name, "create %s %v -> %v", id, fields, err)
			m.expect("create", err)
			m.nodes = append(m.nodes, id)
			w.l1[id] = &mEntry{cur: &mAnchor{id: id, kind: anchor.KindNode, live: true, fields: toModel(fields)}, set: map[string]bool{}}
		},
		"connect": func(*rapid.T) {
			w, src, dst := m.walker(), m.pick("src", m.nodes), m.pick("dst", m.nodes)
			fields := m.drawFields()
			id, err := w.mem.Connect(ctx, src, dst, "E", fields)
			m.hist.add(w.name, "connect %s -> %s as %s %v -> %v", src, dst, id, fields, err)
			_, want := m.load(w, src)
			if want == nil {
				_, want = m.load(w, dst)
			}
			m.expect("connect", err, errList(want)...)
			if err == nil {
				m.edges = append(m.edges, id)
				w.l1[id] = &mEntry{cur: &mAnchor{id: id, kind: anchor.KindEdge, live: true, src: src, dst: dst, fields: toModel(fields)}, set: map[string]bool{}}
			}
		},
		"disconnect": func(*rapid.T) {
			if len(m.edges) == 0 {
				m.rt.Skip("no edges yet")
			}
			w, id := m.walker(), m.pick("edge", m.edges)
			err := w.mem.Disconnect(ctx, id)
			m.hist.add(w.name, "disconnect %s -> %v", id, err)
			e, want := m.load(w, id)
			m.expect("disconnect", err, errList(want)...)
			if err == nil {
				m.markDeleted(w, id, e)
			}
		},
		"delete": func(*rapid.T) {
			if len(m.nodes) < 2 {
				m.rt.Skip("no node but the root")
			}
			w, id := m.walker(), m.pick("node", m.nodes[1:])
			err := w.mem.Delete(ctx, id)
			m.hist.add(w.name, "delete %s -> %v", id, err)
			e, want := m.load(w, id)
			m.expect("delete", err, errList(want)...)
			if err == nil {
				m.markDeleted(w, id, e)
			}
		},
		"set": func(*rapid.T) {
			w, id := m.walker(), m.anyID()
			f := rapid.SampledFrom(modelFields).Draw(m.rt, "field")
			v := rapid.IntRange(0, 1).Draw(m.rt, "value")
			err := w.mem.Set(ctx, id, f, v)
			m.hist.add(w.name, "set %s.%s = %d -> %v", id, f, v, err)
			e, want := m.load(w, id)
			m.expect("set", err, errList(want)...)
			if err == nil {
				e.cur.fields[f] = mField{v, e.cur.fields[f].stamp}
				e.set[f] = true
			}
		},
		"revert": func(*rapid.T) {
			// A user puts a field back to what their page showed (the
			// walker's loaded value), e.g. toggling a setting back.
			w := m.walker()
			var ids []anchor.ID
			for id, e := range w.l1 {
				if e.snap != nil && e.cur.live && len(e.snap.fields) > 0 {
					ids = append(ids, id)
				}
			}
			if len(ids) == 0 {
				m.rt.Skip("nothing loaded with fields")
			}
			slices.SortFunc(ids, func(x, y anchor.ID) int { return strings.Compare(x.String(), y.String()) })
			id := m.pick("loaded", ids)
			e := w.l1[id]
			f := rapid.SampledFrom(slices.Sorted(maps.Keys(e.snap.fields))).Draw(m.rt, "field")
			v := e.snap.fields[f].val
			err := w.mem.Set(ctx, id, f, v)
			m.hist.add(w.name, "set %s.%s = %d (its loaded value) -> %v", id, f, v, err)
			m.expect("revert", err)
			e.cur.fields[f] = mField{v, e.cur.fields[f].stamp}
			e.set[f] = true
		},
		"edges": func(*rapid.T) {
			w, id := m.walker(), m.pick("node", m.nodes)
			rows, err := w.mem.Edges(ctx, id)
			m.hist.add(w.name, "edges %s -> %d rows, %v", id, len(rows), err)
			_, want := m.load(w, id)
			m.expect("edges", err, errList(want)...)
			if err == nil {
				got := map[anchor.ID]bool{}
				for _, r := range rows {
					got[r.Edge] = true
				}
				if exp := m.walkerEdges(w, id); !maps.Equal(got, exp) {
					m.rt.Fatalf("walker %s sees edges %v of %s, model says %v\n%s", w.name, keys(got), id, keys(exp), m.dump())
				}
			}
		},
		"put": func(*rapid.T) {
			w, id := m.walker(), m.anyID()
			err := w.mem.Put(ctx, id)
			m.hist.add(w.name, "put %s -> %v", id, err)
			e, ok := w.l1[id]
			if !ok {
				m.expect("put", err)
				return
			}
			ids := []anchor.ID{id}
			if e.snap == nil && e.cur.kind == anchor.KindEdge {
				for _, end := range []anchor.ID{e.cur.src, e.cur.dst} {
					if x, ok := w.l1[end]; ok && x.snap == nil && end != id {
						ids = append(ids, end)
					}
				}
			}
			m.expect("put", err, m.write(w, ids)...)
		},
		"commit": func(*rapid.T) {
			w := m.walker()
			err := w.mem.Commit(ctx)
			m.hist.add(w.name, "commit -> %v", err)
			m.expect("commit", err, m.write(w, slices.Collect(maps.Keys(w.l1)))...)
		},
		"abort": func(*rapid.T) {
			w := m.walker()
			w.mem.Abort()
			m.hist.add(w.name, "abort")
			clear(w.l1)
		},
		"forget": func(*rapid.T) {
			w, id := m.walker(), m.anyID()
			w.mem.Forget(id)
			m.hist.add(w.name, "forget %s", id)
			delete(w.l1, id)
		},
		"": func(*rapid.T) { m.checkStored() },
	}
}

func (m *machine) drawFields() map[string]any {
	fields := map[string]any{}
	for _, f := range modelFields {
		if rapid.Bool().Draw(m.rt, "has "+f) {
			fields[f] = rapid.IntRange(0, 1).Draw(m.rt, f)
		}
	}
	return fields
}

func toModel(fields map[string]any) map[string]mField {
	out := map[string]mField{}
	for f, v := range fields {
		out[f] = mField{val: v.(int)}
	}
	return out
}

// markDeleted models tiered.Memory.Delete after its load succeeded.
func (m *machine) markDeleted(w *mWalker, id anchor.ID, e *mEntry) {
	if e.snap == nil {
		delete(w.l1, id)
		if e.cur.kind == anchor.KindNode { // never stored: its new edges go with it
			for eid, x := range w.l1 {
				if x.cur.kind == anchor.KindEdge && (x.cur.src == id || x.cur.dst == id) {
					delete(w.l1, eid)
				}
			}
		}
		return
	}
	e.cur.live = false
}

// walkerEdges models tiered.Memory.Edges: the stored adjacency without the
// edges the walker removed or whose peer it deleted, plus the edges it
// added and has not written (unless their peer is deleted).
func (m *machine) walkerEdges(w *mWalker, node anchor.ID) map[anchor.ID]bool {
	deleted := func(id anchor.ID) bool { e, ok := w.l1[id]; return ok && !e.cur.live }
	peer := func(src, dst anchor.ID) anchor.ID {
		if src == node {
			return dst
		}
		return src
	}
	out := map[anchor.ID]bool{}
	for id, a := range m.committed {
		if a.kind != anchor.KindEdge || !a.live || (a.src != node && a.dst != node) {
			continue
		}
		if deleted(id) || deleted(peer(a.src, a.dst)) {
			continue
		}
		out[id] = true
	}
	for id, e := range w.l1 {
		if e.snap == nil && e.cur.kind == anchor.KindEdge && (e.cur.src == node || e.cur.dst == node) && !deleted(peer(e.cur.src, e.cur.dst)) {
			out[id] = true
		}
	}
	return out
}

func keys(s map[anchor.ID]bool) []string {
	var out []string
	for id := range s {
		out = append(out, id.String())
	}
	sort.Strings(out)
	return out
}

// compareCopy checks a walker's copy (from Get) against the model's.
func (m *machine) compareCopy(w *mWalker, got *anchor.Anchor, want *mAnchor) {
	if why := sameAnchor(got, want); why != "" {
		m.rt.Fatalf("walker %s's copy of %s: %s\n%s", w.name, want.id, why, m.dump())
	}
}

func sameAnchor(got *anchor.Anchor, want *mAnchor) string {
	if got.Kind != want.kind || got.Live() != want.live {
		return fmt.Sprintf("kind %s live %v, model %s live %v", got.Kind, got.Live(), want.kind, want.live)
	}
	if want.kind == anchor.KindEdge && (got.Source != want.src || got.Target != want.dst) {
		return fmt.Sprintf("endpoints %s->%s, model %s->%s", got.Source, got.Target, want.src, want.dst)
	}
	if len(got.Fields) != len(want.fields) {
		return fmt.Sprintf("fields %v, model %s", got.FieldNames(), want)
	}
	for f, wf := range want.fields {
		var v int
		if err := got.Field(f, &v); err != nil {
			return fmt.Sprintf("field %s: %v (model %d)", f, err, wf.val)
		}
		if v != wf.val {
			return fmt.Sprintf("field %s = %d, model %d", f, v, wf.val)
		}
	}
	return ""
}

// checkStored compares the whole store with the model and runs Verify.
func (m *machine) checkStored() {
	seen := map[anchor.ID]bool{}
	err := m.store.View(ctx, func(v backend.View) error {
		return v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
			if err != nil {
				return err
			}
			seen[id] = true
			want := m.committed[id]
			if want == nil {
				return fmt.Errorf("stored anchor %s is not in the model", a)
			}
			if why := sameAnchor(a, want); why != "" {
				return fmt.Errorf("stored %s: %s", id, why)
			}
			return nil
		})
	})
	if err != nil {
		m.rt.Fatalf("%v\n%s", err, m.dump())
	}
	for id, a := range m.committed {
		if !seen[id] {
			m.rt.Fatalf("model anchor %s is not stored\n%s", a, m.dump())
		}
	}
	r, err := backend.Verify(ctx, m.store)
	if err != nil {
		m.rt.Fatalf("verify: %v", err)
	}
	if !r.Clean() {
		m.rt.Fatalf("verify: %v\n%s", r.Problems, m.dump())
	}
}

// ---------------------------------------------------------------------------
// Saving a failing case

// caseSaver keeps the artifacts of the latest failing rapid case (rapid
// replays the minimal failing case last) in one directory under os.TempDir,
// and names it in the test's failure output.
type caseSaver struct {
	t   *testing.T
	dir string
}

func newCaseSaver(t *testing.T) *caseSaver {
	s := &caseSaver{t: t}
	t.Cleanup(func() {
		if s.dir != "" && t.Failed() {
			t.Errorf("race_tests: saved the database, operation history and model of the last failing case in %s", s.dir)
		}
	})
	return s
}

func (s *caseSaver) save(storeDir string, h *history, files map[string][]byte) {
	if s.dir == "" {
		dir, err := os.MkdirTemp("", "anchorage-race-"+unsafeName.ReplaceAllString(s.t.Name(), "_")+"-")
		if err != nil {
			s.t.Logf("race_tests: could not save failure artifacts: %v", err)
			return
		}
		s.dir = dir
	}
	_ = os.RemoveAll(s.dir)
	err := errors.Join(copyDir(storeDir, s.dir+"/db"), writeHistory(s.dir+"/history.txt", h))
	for name, b := range files {
		err = errors.Join(err, os.WriteFile(s.dir+"/"+name, b, 0o644))
	}
	if err != nil {
		s.t.Logf("race_tests: saving failure artifacts to %s: %v", s.dir, err)
	}
}

func writeHistory(path string, h *history) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	return errors.Join(h.writeTo(f), f.Close())
}
