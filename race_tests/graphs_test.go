package racetests

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/internal/naive"
	"github.com/anchorage-db/anchorage/tiered"
)

// ---------------------------------------------------------------------------
// Strategies: the naive whole-document writer and the engine

// graph is one persistence strategy under test: the naive whole-document
// writer (the control, which must lose data) or the engine over one backend
// (which must lose nothing). Scenario bodies are written once against it, so
// the control runs exactly the schedule the engine runs.
type graph interface {
	// walker returns a new walker with an empty cache (L1), acting as root.
	walker(root anchor.ID, name string) walker
	// newRoot stores a user's root node and returns its ID (= the root's).
	newRoot(t testing.TB) anchor.ID
	// storedEdges returns the IDs of the edges stored on node.
	storedEdges(t testing.TB, node anchor.ID) map[anchor.ID]bool
	// storedField returns the stored string field of id ("" and false if unset).
	storedField(t testing.TB, id anchor.ID, field string) (string, bool)
	// verify checks the store's integrity (a no-op for the naive writer,
	// which has none to check).
	verify(t testing.TB)
	// log returns the history operations are recorded in.
	log() *history
}

// walker is one request's view of the graph. A walker belongs to one
// goroutine.
type walker interface {
	// load reads id into the walker's cache (a possibly stale copy after that).
	load(id anchor.ID) error
	// touch is load for a walker that then "saves what it read": the naive
	// runtime wrote every loaded document back; the engine writes only diffs.
	touch(id anchor.ID) error
	create(typ string, fields map[string]any) (anchor.ID, error)
	connect(src, dst anchor.ID, typ string) (anchor.ID, error)
	set(id anchor.ID, field string, v any) error
	field(id anchor.ID, name string) (string, error)
	edges(node anchor.ID) ([]anchor.ID, error)
	delete(id anchor.ID) error
	// putEdge is the cascade save of a new edge: the engine Puts the edge
	// (which writes its never-stored endpoint with it); the naive runtime
	// wrote both endpoint documents whole, outside any transaction.
	putEdge(edge, src, dst anchor.ID) error
	// put writes one anchor now.
	put(id anchor.ID) error
	// commit writes everything the walker changed.
	commit() error
}

var ctx = context.Background()

// logged records op and its outcome in h and returns err.
func logged(h *history, who string, err error, format string, args ...any) error {
	if err != nil {
		h.add(who, format+" -> %v", append(args, err)...)
	} else {
		h.add(who, format+" -> ok", args...)
	}
	return err
}

// --- engine

type engineGraph struct {
	store backend.Store
	rec   *recorder
}

// openEngine opens a store of backend b through the conformance harness
// (Verify runs on cleanup) with a recorder that saves it on failure. The
// store declares indexes on the fields the scenarios write, so Verify's
// rebuild of every index from the anchors checks them too.
func openEngine(t testing.TB, b backendCase) *engineGraph {
	h := backendtest.New(t, b.open)
	rec := newRecorder(t)
	rec.addDir(h.Dir())
	s := h.Open()
	rec.addCloser(s.Close)
	var ix delta.Indexes
	for _, typ := range []string{"Root", "Project", "Doc", "Item", "Profile", "Note", "Message", "Section", "Node"} {
		for _, f := range []string{"last_seen", "last_message", "shared", "opened_at", "text"} {
			ix.Fields = append(ix.Fields, delta.FieldIndex{Type: typ, Field: f})
		}
	}
	backendtest.Declare(t, s, ix)
	return &engineGraph{store: s, rec: rec}
}

func (g *engineGraph) log() *history { return g.rec.hist }

func (g *engineGraph) walker(root anchor.ID, name string) walker {
	return &engineWalker{m: tiered.New(g.store, root, nil), h: g.rec.hist, name: name}
}

func (g *engineGraph) newRoot(t testing.TB) anchor.ID {
	root := backendtest.NewRootNode(t, g.store, anchor.Access{})
	g.rec.hist.add("setup", "root %s", root)
	return root
}

func (g *engineGraph) storedEdges(t testing.TB, node anchor.ID) map[anchor.ID]bool {
	t.Helper()
	set := make(map[anchor.ID]bool)
	require.NoError(t, g.store.View(ctx, func(v backend.View) error {
		return v.Adjacent(node, func(r anchor.Adj) error { set[r.Edge] = true; return nil })
	}))
	return set
}

func (g *engineGraph) storedField(t testing.TB, id anchor.ID, field string) (string, bool) {
	t.Helper()
	a := backendtest.Stored(t, g.store, id)
	var v string
	if err := a.Field(field, &v); err != nil {
		require.ErrorIs(t, err, anchor.ErrNoField)
		return "", false
	}
	return v, true
}

// stored returns the stored anchor (tombstones included), or nil if missing.
func (g *engineGraph) stored(t testing.TB, id anchor.ID) *anchor.Anchor {
	t.Helper()
	var a *anchor.Anchor
	err := g.store.View(ctx, func(v backend.View) error {
		var err error
		a, err = v.Anchor(id)
		return err
	})
	if errors.Is(err, anchor.ErrNotFound) {
		return nil
	}
	require.NoError(t, err)
	return a
}

func (g *engineGraph) verify(t testing.TB) {
	t.Helper()
	backendtest.RequireClean(t, g.store)
}

type engineWalker struct {
	m    *tiered.Memory
	h    *history
	name string
}

func (w *engineWalker) load(id anchor.ID) error {
	_, err := w.m.Get(ctx, id)
	return logged(w.h, w.name, err, "load %s", id)
}

func (w *engineWalker) touch(id anchor.ID) error { return w.load(id) }

func (w *engineWalker) create(typ string, fields map[string]any) (anchor.ID, error) {
	id, err := w.m.Create(anchor.KindNode, typ, fields)
	return id, logged(w.h, w.name, err, "create %s %s %v", typ, id, fields)
}

func (w *engineWalker) connect(src, dst anchor.ID, typ string) (anchor.ID, error) {
	e, err := w.m.Connect(ctx, src, dst, typ, nil)
	return e, logged(w.h, w.name, err, "connect %s -%s-> %s as %s", src, typ, dst, e)
}

func (w *engineWalker) set(id anchor.ID, field string, v any) error {
	return logged(w.h, w.name, w.m.Set(ctx, id, field, v), "set %s.%s = %v", id, field, v)
}

func (w *engineWalker) field(id anchor.ID, name string) (string, error) {
	var v string
	err := w.m.Field(ctx, id, name, &v)
	return v, logged(w.h, w.name, err, "field %s.%s = %q", id, name, v)
}

func (w *engineWalker) edges(node anchor.ID) ([]anchor.ID, error) {
	rows, err := w.m.Edges(ctx, node)
	ids := make([]anchor.ID, len(rows))
	for i, r := range rows {
		ids[i] = r.Edge
	}
	return ids, logged(w.h, w.name, err, "edges %s: %d", node, len(ids))
}

func (w *engineWalker) delete(id anchor.ID) error {
	return logged(w.h, w.name, w.m.Delete(ctx, id), "delete %s", id)
}

func (w *engineWalker) putEdge(edge, _, _ anchor.ID) error {
	return logged(w.h, w.name, w.m.Put(ctx, edge), "put edge %s", edge)
}

func (w *engineWalker) put(id anchor.ID) error {
	return logged(w.h, w.name, w.m.Put(ctx, id), "put %s", id)
}

func (w *engineWalker) commit() error {
	return logged(w.h, w.name, w.m.Commit(ctx), "commit")
}

// fieldStamp returns the stamp this walker's copy of id holds for field: after
// a successful commit that set the field, the stamp of that commit.
func (w *engineWalker) fieldStamp(id anchor.ID, field string) (anchor.HLC, error) {
	a, err := w.m.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	return a.Fields[field].Stamp, nil
}

// --- naive

type naiveGraph struct {
	store *naive.Store
	rec   *recorder
}

func openNaive(t testing.TB) *naiveGraph {
	dir := t.TempDir()
	rec := newRecorder(t)
	rec.addDir(dir)
	s, err := naive.Open(filepath.Join(dir, "naive.db"), true)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	rec.addCloser(s.Close)
	return &naiveGraph{store: s, rec: rec}
}

func (g *naiveGraph) log() *history { return g.rec.hist }

func (g *naiveGraph) walker(_ anchor.ID, name string) walker {
	return &naiveWalker{w: g.store.NewWalker(), h: g.rec.hist, name: name}
}

func (g *naiveGraph) newRoot(t testing.TB) anchor.ID {
	root := anchor.NewID()
	w := g.store.NewWalker()
	require.NoError(t, w.Set(root, "_type", "Root"))
	require.NoError(t, w.Commit())
	g.rec.hist.add("setup", "root %s", root)
	return root
}

func (g *naiveGraph) doc(t testing.TB, id anchor.ID) *naive.Doc {
	t.Helper()
	d, err := g.store.Doc(id)
	require.NoError(t, err)
	return d
}

func (g *naiveGraph) storedEdges(t testing.TB, node anchor.ID) map[anchor.ID]bool {
	set := make(map[anchor.ID]bool)
	for _, e := range g.doc(t, node).Edges {
		set[e] = true
	}
	return set
}

func (g *naiveGraph) storedField(t testing.TB, id anchor.ID, field string) (string, bool) {
	v, ok := g.doc(t, id).Fields[field]
	if !ok {
		return "", false
	}
	s, _ := v.(string)
	return s, true
}

func (g *naiveGraph) verify(testing.TB) {}

type naiveWalker struct {
	w    *naive.Walker
	h    *history
	name string
}

func (w *naiveWalker) load(id anchor.ID) error {
	_, err := w.w.Load(id)
	return logged(w.h, w.name, err, "load %s", id)
}

func (w *naiveWalker) touch(id anchor.ID) error {
	return logged(w.h, w.name, w.w.Touch(id), "touch %s", id)
}

func (w *naiveWalker) create(typ string, fields map[string]any) (anchor.ID, error) {
	id := anchor.NewID()
	err := w.w.Set(id, "_type", typ)
	for k, v := range fields {
		if err == nil {
			err = w.w.Set(id, k, v)
		}
	}
	return id, logged(w.h, w.name, err, "create %s %s %v", typ, id, fields)
}

func (w *naiveWalker) connect(src, dst anchor.ID, typ string) (anchor.ID, error) {
	e, err := w.w.Connect(src, dst)
	return e, logged(w.h, w.name, err, "connect %s -%s-> %s as %s", src, typ, dst, e)
}

func (w *naiveWalker) set(id anchor.ID, field string, v any) error {
	return logged(w.h, w.name, w.w.Set(id, field, v), "set %s.%s = %v", id, field, v)
}

func (w *naiveWalker) field(id anchor.ID, name string) (string, error) {
	d, err := w.w.Load(id)
	var v string
	if err == nil {
		v, _ = d.Fields[name].(string)
	}
	return v, logged(w.h, w.name, err, "field %s.%s = %q", id, name, v)
}

func (w *naiveWalker) edges(node anchor.ID) ([]anchor.ID, error) {
	d, err := w.w.Load(node)
	var ids []anchor.ID
	if err == nil {
		ids = slices.Clone(d.Edges)
	}
	return ids, logged(w.h, w.name, err, "edges %s: %d", node, len(ids))
}

func (w *naiveWalker) delete(id anchor.ID) error {
	return logged(w.h, w.name, w.w.Delete(id), "delete %s", id)
}

func (w *naiveWalker) putEdge(edge, src, dst anchor.ID) error {
	err := w.w.Put(src)
	if err == nil {
		err = w.w.Put(dst)
	}
	return logged(w.h, w.name, err, "put edge %s (whole documents %s and %s)", edge, src, dst)
}

func (w *naiveWalker) put(id anchor.ID) error {
	return logged(w.h, w.name, w.w.Put(id), "put %s", id)
}

func (w *naiveWalker) commit() error {
	return logged(w.h, w.name, w.w.Commit(), "commit")
}
