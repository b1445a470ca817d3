package replica_test

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/delta"
)

// mark is one write to a field or access entry: the merge rules keep, per
// field and per entry, the greatest (stamp, origin, value).
type mark struct {
	at     anchor.HLC
	origin anchor.ID
	value  []byte
}

func (m mark) beats(o mark) bool {
	if m.at != o.at {
		return m.at > o.at
	}
	if c := bytes.Compare(m.origin[:], o.origin[:]); c != 0 {
		return c > 0
	}
	return bytes.Compare(m.value, o.value) > 0
}

// mAnchor is the model of one anchor: every write ever made to it, by any
// store, folded with the merge rules.
type mAnchor struct {
	kind     anchor.Kind
	src, dst anchor.ID
	// srcLife, dstLife: the lives of its endpoints an edge was created in.
	srcLife, dstLife anchor.HLC
	// deleted holds, per life (the Restored stamp that began it; 0: the
	// first), whether the anchor was deleted in that life anywhere.
	deleted map[anchor.HLC]bool
	fields  map[string]mark
	access  map[anchor.ID]mark
}

// model is an independent statement of the merge rules: a field or access
// entry holds its greatest write; an anchor lives in the latest of its
// lives (its first, and one per restore), and is deleted everywhere if it
// was deleted anywhere in that life; an edge is live only while it was
// not deleted, both endpoints are live and in the lives the edge was
// created in.
type model struct{ anchors map[anchor.ID]*mAnchor }

func newModel() *model { return &model{anchors: map[anchor.ID]*mAnchor{}} }

// observe folds in the stored state of id on s right after s wrote it: its
// fields and access entries (with their stamps and origins) and liveness.
func (m *model) observe(t *testing.T, s backend.Store, id anchor.ID) {
	t.Helper()
	require.NoError(t, m.observeErr(s, id))
}

// observeErr is observe for goroutines other than the test's: it returns
// the store's error instead of failing the test.
func (m *model) observeErr(s backend.Store, id anchor.ID) error {
	var self anchor.ID
	var a *anchor.Anchor
	if err := s.View(ctx, func(v backend.View) (err error) {
		self = v.Meta().ReplicaID
		a, err = v.Anchor(id)
		return err
	}); err != nil {
		return err
	}
	ma := m.anchors[id]
	if ma == nil {
		ma = &mAnchor{kind: a.Kind, src: a.Source, dst: a.Target, srcLife: a.SourceEpoch, dstLife: a.TargetEpoch,
			deleted: map[anchor.HLC]bool{}, fields: map[string]mark{}, access: map[anchor.ID]mark{}}
		m.anchors[id] = ma
	}
	ma.deleted[a.Restored] = ma.deleted[a.Restored] || !a.Live()
	for name, f := range a.Fields {
		fold(ma.fields, name, mark{f.Stamp, f.Origin, f.Value}, self)
	}
	for _, k := range append([]anchor.ID{anchor.SystemRoot}, mapKeys(a.Access.Roots)...) {
		lvl, _ := a.Access.Entry(k)
		mk := delta.MarkOf(a, k)
		fold(ma.access, k, mark{mk.At, mk.Origin, []byte{byte(lvl)}}, self)
	}
	return nil
}

// fold keeps w under key if it beats what is there; a zero origin is the
// observing store's replica.
func fold[K comparable](into map[K]mark, key K, w mark, self anchor.ID) {
	if w.origin.IsZero() {
		w.origin = self
	}
	if old, ok := into[key]; !ok || w.beats(old) {
		into[key] = w
	}
}

// life returns the latest life of id any store gave it.
func (m *model) life(id anchor.ID) anchor.HLC {
	var last anchor.HLC
	for l := range m.anchors[id].deleted {
		last = max(last, l)
	}
	return last
}

func (m *model) live(id anchor.ID) bool {
	a := m.anchors[id]
	if a == nil || a.deleted[m.life(id)] {
		return false
	}
	if a.kind == anchor.KindEdge {
		return m.live(a.src) && m.live(a.dst) && a.srcLife == m.life(a.src) && a.dstLife == m.life(a.dst)
	}
	return true
}

// check requires s to hold exactly what the model says for every anchor
// the model knows: liveness, field values and access levels.
func (m *model) check(t *testing.T, s backend.Store) {
	t.Helper()
	for id, ma := range m.anchors {
		a := backendtest.Stored(t, s, id)
		require.Equal(t, m.live(id), a.Live(), "liveness of %s %s", ma.kind, id)
		require.Len(t, a.Fields, len(ma.fields), "fields of %s", id)
		for name, w := range ma.fields {
			require.Equal(t, w.value, a.Fields[name].Value, "field %s of %s", name, id)
		}
		for k, w := range ma.access {
			lvl, _ := a.Access.Entry(k)
			require.Equal(t, anchor.Level(w.value[0]), lvl, "access entry %s of %s", k, id)
		}
	}
}
