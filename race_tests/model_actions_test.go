package racetests

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"pgregory.net/rapid"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

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
