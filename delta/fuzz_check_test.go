package delta_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// ---------------------------------------------------------------------------
// Each step of FuzzApply checked against the model

// txState is a byte-exact copy of a memTx's contents.
type txState struct {
	anchors map[anchor.ID][]byte
	adj     map[[2]anchor.ID]anchor.Adj
	log     map[anchor.ID]uint64
	seq     uint64
}

func (t *memTx) state() txState {
	s := txState{anchors: map[anchor.ID][]byte{}, adj: t.adj(), log: maps.Clone(t.log), seq: t.seq}
	for id, b := range t.anchors {
		s.anchors[id] = bytes.Clone(b)
	}
	return s
}

func (s txState) equal(o txState) bool {
	return s.seq == o.seq && maps.Equal(s.adj, o.adj) && maps.Equal(s.log, o.log) &&
		maps.EqualFunc(s.anchors, o.anchors, bytes.Equal)
}

// step applies b to the Tx and to the model and checks they agree.
func (h *fuzzHarness) step(b *delta.Batch) {
	t := h.t
	t.Helper()
	h.stamp++
	h.log = append(h.log, describe(b))
	next, dirty, rej := h.model.apply(b, h.stamp)
	before := h.tx.state()
	res, err := delta.Apply(h.tx, delta.Env{Stamp: h.stamp}, b)

	if rej != nil {
		if err == nil {
			h.fail("Apply accepted a batch the model rejects with %v", rej)
		}
		if !matches(err, rej) {
			h.fail("Apply rejected the batch with %v; the model expects one of %v", err, rej)
		}
		if !h.tx.state().equal(before) {
			h.fail("a rejected batch (%v) changed the Tx", err)
		}
		if res.Stamp != 0 {
			h.fail("a rejected batch got stamp %v", res.Stamp)
		}
		return
	}
	if err != nil {
		h.fail("Apply rejected a batch the model accepts: %v", err)
	}
	if res.Stamp != h.stamp {
		h.fail("batch stamp %v, want %v", res.Stamp, h.stamp)
	}
	h.model = next

	// The log: exactly the anchors this batch wrote got new sequence numbers.
	for id, seq := range h.tx.log {
		if seq > before.seq && !dirty[id] {
			h.fail("anchor %s was logged but the batch did not change it", id)
		}
	}
	for id := range dirty {
		if h.tx.log[id] <= before.seq {
			h.fail("anchor %s changed but was not logged", id)
		}
	}
	h.compare()
	h.checkAdjacency()
}

func matches(err error, rej []rejection) bool {
	var ae *anchor.Error
	if !errors.As(err, &ae) {
		return false
	}
	for _, r := range rej {
		ok := ae.ID == r.id
		for _, s := range r.errs {
			ok = ok && errors.Is(err, s)
		}
		if ok {
			return true
		}
	}
	return false
}

// compare checks the Tx holds exactly the model's anchors, field by field,
// and exactly the adjacency rows the model's live edges imply.
func (h *fuzzHarness) compare() {
	if len(h.tx.anchors) != len(h.model.anchors) {
		h.fail("Tx holds %d anchors, the model %d", len(h.tx.anchors), len(h.model.anchors))
	}
	for id, m := range h.model.anchors {
		a, err := h.tx.Anchor(id)
		if err != nil {
			h.fail("anchor %s: %v", id, err)
		}
		var d []string
		chk := func(ok bool, what string, got, want any) {
			if !ok {
				d = append(d, fmt.Sprintf("%s %v, want %v", what, got, want))
			}
		}
		chk(a.Kind == m.kind, "kind", a.Kind, m.kind)
		chk(a.Owner == m.owner, "owner", a.Owner, m.owner)
		chk(a.Type == m.typ, "type", a.Type, m.typ)
		chk(sameAccess(a.Access, m.access), "access", a.Access, m.access)
		chk(a.Created == m.created, "created", a.Created, m.created)
		chk(a.Updated == m.updated, "updated", a.Updated, m.updated)
		chk(a.Deleted == m.deleted, "deleted", a.Deleted, m.deleted)
		for _, key := range append([]anchor.ID{anchor.SystemRoot}, slices.Collect(maps.Keys(a.Access.Roots))...) {
			chk(delta.MarkOf(a, key).At == m.mark(key), "access mark "+short(key), delta.MarkOf(a, key).At, m.mark(key))
		}
		chk(a.Source == m.src && a.Target == m.dst && a.Undirected == m.undirected, "endpoints",
			fmt.Sprint(a.Source, a.Target, a.Undirected), fmt.Sprint(m.src, m.dst, m.undirected))
		chk(len(a.Fields) == len(m.fields), "field count", len(a.Fields), len(m.fields))
		for name, f := range m.fields {
			g := a.Fields[name]
			chk(bytes.Equal(g.Value, f.Value) && g.Stamp == f.Stamp && g.Origin == f.Origin, "field "+name,
				fmt.Sprintf("%x@%d/%s", g.Value, g.Stamp, g.Origin), fmt.Sprintf("%x@%d/%s", f.Value, f.Stamp, f.Origin))
		}
		if d != nil {
			h.fail("anchor %s differs from the model: %s", id, strings.Join(d, "; "))
		}
	}
	want := h.model.adjRows()
	if !maps.Equal(h.tx.adj(), want) {
		h.fail("adjacency differs from the model's live edges:\n Tx    %v\n model %v", h.tx.adj(), want)
	}
}

// checkAdjacency checks the Tx's own consistency, model aside: every row
// belongs to a live edge between live nodes, and every live edge has its rows.
func (h *fuzzHarness) checkAdjacency() {
	for k, row := range h.tx.adj() {
		e, err := h.tx.Anchor(k[1])
		if err != nil || e.Kind != anchor.KindEdge || !e.Live() {
			h.fail("adjacency row %v has no live edge (%v)", row, err)
		}
		if row.Node != k[0] || row.Edge != k[1] || (row.Node != e.Source && row.Node != e.Target) {
			h.fail("adjacency row %v does not match its key or edge %v", row, e)
		}
	}
	for id, b := range h.tx.anchors {
		e, err := anchor.Unmarshal(id, b)
		if err != nil {
			h.fail("stored record %s: %v", id, err)
		}
		if e.Kind != anchor.KindEdge || !e.Live() {
			continue
		}
		for _, end := range []anchor.ID{e.Source, e.Target} {
			n, err := h.tx.Anchor(end)
			if err != nil || !n.Live() || n.Kind != anchor.KindNode {
				h.fail("live edge %s has endpoint %s that is not a live node (%v)", id, end, err)
			}
			if _, ok := h.tx.adj()[[2]anchor.ID{end, id}]; !ok {
				h.fail("live edge %s lacks its adjacency row on %s", id, end)
			}
		}
	}
}

func (h *fuzzHarness) fail(format string, args ...any) {
	h.t.Helper()
	h.t.Fatalf("batch %d: %s\nbatches so far:\n  %s", len(h.log), fmt.Sprintf(format, args...), strings.Join(h.log, "\n  "))
}

func describe(b *delta.Batch) string {
	var parts []string
	for _, c := range b.Changes {
		switch {
		case c.Create != nil:
			a := c.Create
			s := fmt.Sprintf("create %s %s owner=%s access=%v fields=%v", a.Kind, short(c.ID), short(a.Owner), a.Access, sortedKeys(a.Fields))
			if a.ID != c.ID {
				s += " carrying " + short(a.ID)
			}
			if a.Kind == anchor.KindEdge {
				s += fmt.Sprintf(" %s->%s undirected=%v", short(a.Source), short(a.Target), a.Undirected)
			}
			parts = append(parts, s)
		case c.Delete:
			parts = append(parts, "delete "+short(c.ID))
		default:
			s := fmt.Sprintf("update %s set=%v base=%v", short(c.ID), c.Set, c.Base)
			if c.Grants != nil {
				s += fmt.Sprintf(" grants=%v base=%v", c.Grants, c.GrantBase)
			}
			parts = append(parts, s)
		}
	}
	return fmt.Sprintf("root=%s optimistic=%v: %s", short(b.Root), b.Optimistic, strings.Join(parts, "; "))
}

func short(id anchor.ID) string {
	if id == (anchor.ID{}) {
		return "system"
	}
	return fmt.Sprintf("#%d", int(id[14])<<8|int(id[15]))
}

func sortedKeys[V any](m map[string]V) []string {
	ks := slices.Collect(maps.Keys(m))
	sort.Strings(ks)
	return ks
}
