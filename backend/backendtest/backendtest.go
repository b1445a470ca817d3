// Package backendtest is the conformance suite every Anchorage backend runs
// unchanged: backendtest.Run(t, open).
package backendtest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// Opener opens the store kept in dir, creating it if dir holds none.
// Opening the same dir again after Close must give back the same store.
type Opener func(t testing.TB, dir string) backend.Store

// Harness opens stores for one test and checks each of them with Verify
// when the test ends.
type Harness struct {
	t    testing.TB
	open Opener
	dir  string
}

// New returns a harness over a fresh directory.
func New(t testing.TB, open Opener) *Harness {
	return &Harness{t: t, open: open, dir: t.TempDir()}
}

// Dir returns the directory the harness's store lives in.
func (h *Harness) Dir() string { return h.dir }

// Open opens the harness's store and registers a cleanup that runs Verify
// on it (reopening it if the test closed it) and fails the test on any
// inconsistency, then closes it.
func (h *Harness) Open() backend.Store {
	s := h.open(h.t, h.dir)
	h.t.Cleanup(func() {
		check := s
		if err := s.View(context.Background(), func(backend.View) error { return nil }); errors.Is(err, anchor.ErrClosed) {
			check = h.open(h.t, h.dir)
		}
		RequireClean(h.t, check)
		require.NoError(h.t, check.Close())
		require.NoError(h.t, s.Close())
	})
	return s
}

// Reopen closes s and opens the same store again.
func (h *Harness) Reopen(s backend.Store) backend.Store {
	require.NoError(h.t, s.Close())
	return h.Open()
}

// RequireClean runs backend.Verify and fails the test, listing every
// problem, if the store is inconsistent.
func RequireClean(t testing.TB, s backend.Store) *backend.Report {
	t.Helper()
	r, err := backend.Verify(context.Background(), s)
	require.NoError(t, err)
	if !r.Clean() {
		for _, p := range r.Problems {
			t.Log(p)
		}
		t.Fatalf("Verify found %d problems", len(r.Problems))
	}
	return r
}

// EdgeCount returns the number of adjacency rows on node in committed state.
func EdgeCount(t testing.TB, s backend.Store, node anchor.ID) int {
	t.Helper()
	n := 0
	require.NoError(t, s.View(context.Background(), func(v backend.View) error {
		return v.Adjacent(node, func(anchor.Adj) error { n++; return nil })
	}))
	return n
}

// Stored returns the committed anchor.
func Stored(t testing.TB, s backend.Store, id anchor.ID) *anchor.Anchor {
	t.Helper()
	var a *anchor.Anchor
	require.NoError(t, s.View(context.Background(), func(v backend.View) error {
		var err error
		a, err = v.Anchor(id)
		return err
	}))
	return a
}

// Meta returns the store's meta.
func Meta(t testing.TB, s backend.Store) backend.Meta {
	t.Helper()
	var m backend.Meta
	require.NoError(t, s.View(context.Background(), func(v backend.View) error { m = v.Meta(); return nil }))
	return m
}

// NewRootNode creates, as the system root, a node owned by a new root and
// returns that root (the node's ID equals the root's ID, as in walker
// runtimes where each user has a root node).
func NewRootNode(t testing.TB, s backend.Store, access anchor.Access) anchor.ID {
	t.Helper()
	root := anchor.NewID()
	a := &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root", Access: access}
	require.NoError(t, Apply(context.Background(), s, &delta.Batch{Changes: []delta.Change{{ID: root, Create: a}}}))
	return root
}

func requireAnchorErr(t testing.TB, err error, sentinel error, id anchor.ID) *anchor.Error {
	t.Helper()
	require.ErrorIs(t, err, sentinel)
	var ae *anchor.Error
	require.True(t, errors.As(err, &ae), "want *anchor.Error, got %T: %v", err, err)
	require.Equal(t, id, ae.ID, "error names the wrong anchor: %v", err)
	return ae
}

// Run runs the conformance suite against the backend that open opens.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, *Harness)
	}{
		{"CreateRead", testCreateRead},
		{"NotFound", testNotFound},
		{"AccessDenied", testAccessDenied},
		{"AccessTable", testAccessTable},
		{"DanglingEdgeRefused", testDanglingEdge},
		{"EdgeEndpointMustBeNode", testEdgeEndpointKind},
		{"DeleteCascade", testDeleteCascade},
		{"DeleteAndDisconnectInOneBatch", testDeleteAndDisconnect},
		{"FieldMergeStaleWriters", testFieldMerge},
		{"StalePutKeepsOthersWrites", testStalePut},
		{"OptimisticConflict", testOptimisticConflict},
		{"AtomicBatch", testAtomicBatch},
		{"ConcurrentEdgesOneNode", testConcurrentEdges},
		{"ConcurrentBatchesOneFails", testConcurrentOneFails},
		{"ChangeLog", testChangeLog},
		{"EdgesListingMergesL1", testEdgesListing},
		{"ClosedStore", testClosed},
		{"ReopenKeepsEverything", testReopen},
		{"GrantsMergePerEntry", testGrantsMerge},
		{"MergeChecksPrincipal", testMergeChecksPrincipal},
		{"InvalidInputIsolated", testInvalidInputIsolated},
		{"DeniedLeavesNoTrace", testDeniedLeavesNoTrace},
		{"ReadRechecked", testReadRechecked},
		{"DeleteReadYourWrites", testDeleteReadYourWrites},
		{"StaleRemoveSucceeds", testStaleRemoveSucceeds},
		{"OnlyOwnerChangesAccess", testOnlyOwnerChangesAccess},
		{"MergeMetaAndCursor", testMergeMetaAndCursor},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, New(t, open)) })
	}
}

var ctx = context.Background()

func testCreateRead(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	id, err := m.Create(anchor.KindNode, "Profile", map[string]any{"name": "ada", "age": 36})
	require.NoError(t, err)
	_, err = m.Connect(ctx, root, id, "HasProfile", map[string]any{"since": 2024})
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	require.Zero(t, m.Dirty())

	fresh := tiered.New(s, root, nil)
	var name string
	var age int
	require.NoError(t, fresh.Field(ctx, id, "name", &name))
	require.NoError(t, fresh.Field(ctx, id, "age", &age))
	require.Equal(t, "ada", name)
	require.Equal(t, 36, age)
	a, err := fresh.Get(ctx, id)
	require.NoError(t, err)
	require.Equal(t, anchor.KindNode, a.Kind)
	require.Equal(t, "Profile", a.Type)
	require.Equal(t, root, a.Owner)
	require.NotZero(t, a.Created)
	require.Equal(t, a.Created, a.Fields["name"].Stamp)
	edges, err := fresh.Edges(ctx, root)
	require.NoError(t, err)
	require.Len(t, edges, 1)
	require.Equal(t, id, edges[0].Peer)
	require.Equal(t, anchor.Out, edges[0].Dir)
	require.Equal(t, "HasProfile", edges[0].Type)
	back, err := fresh.Edges(ctx, id)
	require.NoError(t, err)
	require.Len(t, back, 1)
	require.Equal(t, anchor.In, back[0].Dir)
	var wrong int
	require.ErrorIs(t, fresh.Field(ctx, id, "name", &wrong), anchor.ErrFieldType)
}

func testNotFound(t *testing.T, h *Harness) {
	s := h.Open()
	m := tiered.New(s, anchor.SystemRoot, nil)
	missing := anchor.NewID()
	_, err := m.Get(ctx, missing)
	requireAnchorErr(t, err, anchor.ErrNotFound, missing)
	err = Apply(ctx, s, &delta.Batch{Changes: []delta.Change{{ID: missing, Set: map[string][]byte{"x": {0x01}}}}})
	requireAnchorErr(t, err, anchor.ErrNotFound, missing)
	err = Apply(ctx, s, &delta.Batch{Changes: []delta.Change{{ID: missing, Delete: true}}})
	requireAnchorErr(t, err, anchor.ErrNotFound, missing)
}

func testAccessDenied(t *testing.T, h *Harness) {
	s := h.Open()
	alice := NewRootNode(t, s, anchor.Access{})
	bob := NewRootNode(t, s, anchor.Access{})
	am := tiered.New(s, alice, nil)
	secret, err := am.Create(anchor.KindNode, "Secret", map[string]any{"v": 1})
	require.NoError(t, err)
	require.NoError(t, am.Commit(ctx))

	bm := tiered.New(s, bob, nil)
	_, err = bm.Get(ctx, secret)
	ae := requireAnchorErr(t, err, anchor.ErrAccessDenied, secret)
	require.Equal(t, anchor.Read, ae.Need)

	// Read granted: bob may read but not write or connect.
	require.NoError(t, am.Grant(ctx, secret, bob, anchor.Read))
	require.NoError(t, am.Commit(ctx))
	bm.Abort()
	require.NoError(t, bm.Set(ctx, secret, "v", 2))
	other, err := bm.Create(anchor.KindNode, "Mine", nil)
	require.NoError(t, err)
	err = bm.Commit(ctx)
	ae = requireAnchorErr(t, err, anchor.ErrAccessDenied, secret)
	require.Equal(t, anchor.Write, ae.Need)
	require.Equal(t, bob, ae.Root)
	_, err = tiered.New(s, bob, nil).Get(ctx, other)
	require.ErrorIs(t, err, anchor.ErrNotFound, "a denied batch must write nothing")

	bm.Abort()
	_, err = bm.Connect(ctx, bob, secret, "Peek", nil)
	require.NoError(t, err)
	ae = requireAnchorErr(t, bm.Commit(ctx), anchor.ErrAccessDenied, secret)
	require.Equal(t, anchor.Connect, ae.Need)

	// Connect granted: the edge lands; Write still refused.
	require.NoError(t, am.Grant(ctx, secret, bob, anchor.Connect))
	require.NoError(t, am.Commit(ctx))
	require.NoError(t, bm.Commit(ctx), "grants take effect for the next batch, checked against stored state")
	require.Equal(t, 1, EdgeCount(t, s, secret))

	// Revoke: bob's stale L1 copy still "has" the node, the store says no.
	require.NoError(t, am.Grant(ctx, secret, bob, anchor.NoAccess))
	require.NoError(t, am.Commit(ctx))
	_, err = bm.Connect(ctx, bob, secret, "Again", nil)
	require.NoError(t, err)
	requireAnchorErr(t, bm.Commit(ctx), anchor.ErrAccessDenied, secret)

	// The system root may do anything.
	sys := tiered.New(s, anchor.SystemRoot, nil)
	require.NoError(t, sys.Set(ctx, secret, "v", 99))
	require.NoError(t, sys.Commit(ctx))
}

func testDanglingEdge(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	missing := anchor.NewID()
	edge := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "E", Source: root, Target: missing}
	err := Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: edge.ID, Create: edge}}})
	require.ErrorIs(t, err, anchor.ErrIntegrity)
	requireAnchorErr(t, err, anchor.ErrNotFound, missing)
	_, err = tiered.New(s, root, nil).Get(ctx, edge.ID)
	require.ErrorIs(t, err, anchor.ErrNotFound)

	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "N", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	stale := tiered.New(s, root, nil)
	_, err = stale.Get(ctx, n)
	require.NoError(t, err)
	require.NoError(t, m.Delete(ctx, n))
	require.NoError(t, m.Commit(ctx))
	_, err = stale.Connect(ctx, root, n, "E", nil)
	require.NoError(t, err, "the stale copy still looks live")
	err = stale.Commit(ctx)
	require.ErrorIs(t, err, anchor.ErrIntegrity)
	requireAnchorErr(t, err, anchor.ErrDeleted, n)
	require.Zero(t, EdgeCount(t, s, root))
}

func testEdgeEndpointKind(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	obj, err := m.Create(anchor.KindObject, "Blob", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	_, err = m.Connect(ctx, root, obj, "E", nil)
	require.ErrorIs(t, err, anchor.ErrIntegrity)
	edge := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "E", Source: root, Target: obj}
	err = Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: edge.ID, Create: edge}}})
	requireAnchorErr(t, err, anchor.ErrIntegrity, obj)
}

func testDeleteCascade(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	hub, err := m.Create(anchor.KindNode, "Hub", nil)
	require.NoError(t, err)
	var edges []anchor.ID
	for i := range 3 {
		peer, err := m.Create(anchor.KindNode, "Peer", map[string]any{"i": i})
		require.NoError(t, err)
		e, err := m.Connect(ctx, hub, peer, "Link", nil)
		require.NoError(t, err)
		edges = append(edges, e)
	}
	e, err := m.ConnectUndirected(ctx, root, hub, "Knows", nil)
	require.NoError(t, err)
	edges = append(edges, e)
	require.NoError(t, m.Commit(ctx))
	require.Equal(t, 4, EdgeCount(t, s, hub))

	m2 := tiered.New(s, root, nil)
	require.NoError(t, m2.Delete(ctx, hub))
	require.NoError(t, m2.Commit(ctx))
	require.Zero(t, EdgeCount(t, s, hub))
	require.Zero(t, EdgeCount(t, s, root))
	for _, e := range edges {
		a := Stored(t, s, e)
		require.False(t, a.Live(), "edge %s must be tombstoned with its node", e)
	}
	_, err = tiered.New(s, root, nil).Get(ctx, hub)
	requireAnchorErr(t, err, anchor.ErrDeleted, hub)
}

func testDeleteAndDisconnect(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "N", nil)
	require.NoError(t, err)
	e, err := m.Connect(ctx, root, n, "E", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	// One batch that disconnects the edge and deletes the node, in either order.
	for _, order := range [][]delta.Change{{{ID: n, Delete: true}, {ID: e, Delete: true}}} {
		require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: order}))
	}
	require.Zero(t, EdgeCount(t, s, root))
}

func testFieldMerge(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "Profile", map[string]any{"name": "a", "bio": "b", "theme": "c"})
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))

	w1, w2 := tiered.New(s, root, nil), tiered.New(s, root, nil)
	for _, w := range []*tiered.Memory{w1, w2} {
		_, err := w.Get(ctx, n)
		require.NoError(t, err)
	}
	require.NoError(t, w1.Set(ctx, n, "name", "alice"))
	require.NoError(t, w2.Set(ctx, n, "bio", "writes code"))
	require.NoError(t, w1.Commit(ctx))
	require.NoError(t, w2.Commit(ctx)) // w2's copy still has name "a": it must not write it
	a := Stored(t, s, n)
	var name, bio, theme string
	require.NoError(t, a.Field("name", &name))
	require.NoError(t, a.Field("bio", &bio))
	require.NoError(t, a.Field("theme", &theme))
	require.Equal(t, []string{"alice", "writes code", "c"}, []string{name, bio, theme})

	// Same field: the later commit wins.
	require.NoError(t, w1.Set(ctx, n, "theme", "dark"))
	require.NoError(t, w2.Set(ctx, n, "theme", "light"))
	require.NoError(t, w1.Commit(ctx))
	require.NoError(t, w2.Commit(ctx))
	require.NoError(t, Stored(t, s, n).Field("theme", &theme))
	require.Equal(t, "light", theme)
}

// testStalePut pins the second write path of the original bug: a walker
// holding a stale copy of a node saves it immediately (Put, the cascade
// save) and must not erase the edges or fields others committed meanwhile.
func testStalePut(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	stale := tiered.New(s, root, nil)
	_, err := stale.Get(ctx, root)
	require.NoError(t, err)

	other := tiered.New(s, root, nil)
	profile, err := other.Create(anchor.KindNode, "Profile", nil)
	require.NoError(t, err)
	_, err = other.Connect(ctx, root, profile, "HasProfile", nil)
	require.NoError(t, err)
	require.NoError(t, other.Set(ctx, root, "plan", "pro"))
	require.NoError(t, other.Commit(ctx))

	require.NoError(t, stale.Set(ctx, root, "last_seen", 12345))
	msg, err := stale.Create(anchor.KindNode, "Message", nil)
	require.NoError(t, err)
	e, err := stale.Connect(ctx, root, msg, "HasMessage", nil)
	require.NoError(t, err)
	require.NoError(t, stale.Put(ctx, e), "Put of a new edge writes its new endpoint too")
	require.NoError(t, stale.Put(ctx, root))

	a := Stored(t, s, root)
	var plan string
	var seen int
	require.NoError(t, a.Field("plan", &plan))
	require.NoError(t, a.Field("last_seen", &seen))
	require.Equal(t, "pro", plan)
	require.Equal(t, 12345, seen)
	require.Equal(t, 2, EdgeCount(t, s, root), "root->profile and root->message must both survive")
}

func testOptimisticConflict(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "Doc", map[string]any{"title": "t0", "body": "b0"})
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))

	opt := tiered.New(s, root, &tiered.Options{Optimistic: true})
	_, err = opt.Get(ctx, n)
	require.NoError(t, err)
	other := tiered.New(s, root, nil)
	require.NoError(t, other.Set(ctx, n, "title", "t1"))
	require.NoError(t, other.Commit(ctx))

	require.NoError(t, opt.Set(ctx, n, "title", "mine"))
	require.NoError(t, opt.Set(ctx, n, "body", "b1"))
	err = opt.Commit(ctx)
	ae := requireAnchorErr(t, err, anchor.ErrConflict, n)
	require.Equal(t, "title", ae.Field)
	var body string
	require.NoError(t, Stored(t, s, n).Field("body", &body))
	require.Equal(t, "b0", body, "a conflicting batch writes nothing")

	// A field nobody else touched commits fine, twice in a row (own stamps are no conflict).
	opt.Abort()
	require.NoError(t, opt.Set(ctx, n, "body", "b1"))
	require.NoError(t, opt.Commit(ctx))
	require.NoError(t, opt.Set(ctx, n, "body", "b0"))
	require.NoError(t, opt.Set(ctx, n, "title", "t1"))
	require.NoError(t, opt.Commit(ctx))
	require.NoError(t, opt.Set(ctx, n, "title", "t2"))
	require.NoError(t, opt.Commit(ctx))
}

func testAtomicBatch(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	before := Meta(t, s)
	good := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Good"}
	edge := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "E", Source: root, Target: good.ID}
	missing := anchor.NewID()
	err := Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{
		{ID: good.ID, Create: good},
		{ID: edge.ID, Create: edge},
		{ID: root, Set: map[string][]byte{"x": {0x01}}},
		{ID: missing, Set: map[string][]byte{"y": {0x02}}},
	}})
	requireAnchorErr(t, err, anchor.ErrNotFound, missing)
	after := Meta(t, s)
	require.Equal(t, before.Seq, after.Seq, "nothing logged")
	require.Zero(t, EdgeCount(t, s, root))
	_, err = tiered.New(s, root, nil).Get(ctx, good.ID)
	require.ErrorIs(t, err, anchor.ErrNotFound)
	_, has := Stored(t, s, root).Fields["x"]
	require.False(t, has)
	// Creating an existing ID fails too.
	err = Apply(ctx, s, &delta.Batch{Changes: []delta.Change{{ID: root, Create: &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root"}}}})
	requireAnchorErr(t, err, anchor.ErrExists, root)
}

func testConcurrentEdges(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{All: anchor.Connect})
	const walkers, per = 16, 40
	require.NoError(t, AddEdges(ctx, []backend.Store{s}, root, walkers, per))
	require.Equal(t, walkers*per, EdgeCount(t, s, root))
}

// AddEdges runs walkers goroutines on each store, each with its own
// tiered.Memory under a new root, each loading root and then adding per
// edges from root to new nodes, one Commit per edge. It returns the first
// error any walker met.
func AddEdges(ctx context.Context, stores []backend.Store, root anchor.ID, walkers, per int) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*walkers)
	for _, s := range stores {
		for range walkers {
			wg.Go(func() {
				m := tiered.New(s, anchor.NewID(), nil)
				_, err := m.Get(ctx, root)
				for i := 0; err == nil && i < per; i++ {
					var n anchor.ID
					n, err = m.Create(anchor.KindNode, "Item", map[string]any{"i": i})
					if err == nil {
						_, err = m.Connect(ctx, root, n, "Has", nil)
					}
					if err == nil {
						err = m.Commit(ctx)
					}
				}
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func testConcurrentOneFails(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	const n = 32
	var wg sync.WaitGroup
	errs := make([]error, n)
	ids := make([]anchor.ID, n)
	for i := range n {
		wg.Go(func() {
			a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "N"}
			ids[i] = a.ID
			b := &delta.Batch{Root: root, Changes: []delta.Change{{ID: a.ID, Create: a}}}
			if i%4 == 0 { // every fourth batch also touches a missing anchor
				b.Changes = append(b.Changes, delta.Change{ID: anchor.NewID(), Delete: true})
			}
			errs[i] = Apply(ctx, s, b)
		})
	}
	wg.Wait()
	for i := range n {
		_, err := tiered.New(s, root, nil).Get(ctx, ids[i])
		if i%4 == 0 {
			require.ErrorIs(t, errs[i], anchor.ErrNotFound)
			require.ErrorIs(t, err, anchor.ErrNotFound, "failed batch %d left a write", i)
		} else {
			require.NoError(t, errs[i])
			require.NoError(t, err)
		}
	}
}

func testChangeLog(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "N", map[string]any{"v": 1})
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	seq0 := Meta(t, s).Seq
	for i := 2; i <= 4; i++ {
		require.NoError(t, m.Set(ctx, n, "v", i))
		require.NoError(t, m.Commit(ctx))
	}
	// A write that changes nothing is neither stamped nor logged.
	before := Stored(t, s, n)
	require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n, Set: map[string][]byte{"v": before.Fields["v"].Value}}}}))
	require.Equal(t, before.Updated, Stored(t, s, n).Updated)
	meta := Meta(t, s)
	require.Equal(t, seq0+3, meta.Seq)
	var entries []anchor.ID
	var seqs []uint64
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		return v.Changes(0, func(seq uint64, id anchor.ID) error {
			entries = append(entries, id)
			seqs = append(seqs, seq)
			return nil
		})
	}))
	require.Equal(t, []anchor.ID{root, n}, entries, "one entry per anchor, at its latest write")
	require.Equal(t, meta.Seq, seqs[1])
	require.GreaterOrEqual(t, meta.HLC, Stored(t, s, n).Updated)
	var tail []uint64
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		return v.Changes(seqs[0], func(seq uint64, _ anchor.ID) error { tail = append(tail, seq); return nil })
	}))
	require.Equal(t, seqs[1:], tail)
}

func testEdgesListing(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	a, _ := m.Create(anchor.KindNode, "A", nil)
	b, _ := m.Create(anchor.KindNode, "B", nil)
	ea, err := m.Connect(ctx, root, a, "E", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	eb, err := m.Connect(ctx, root, b, "E", nil)
	require.NoError(t, err)
	require.NoError(t, m.Disconnect(ctx, ea))
	rows, err := m.Edges(ctx, root)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, eb, rows[0].Edge)
	require.Equal(t, 1, EdgeCount(t, s, root), "uncommitted changes are not stored")
	require.NoError(t, m.Commit(ctx))
	require.Equal(t, 1, EdgeCount(t, s, root))
}

func testClosed(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
	err := Apply(ctx, s, &delta.Batch{Changes: []delta.Change{{ID: root, Set: map[string][]byte{"x": {1}}}}})
	require.ErrorIs(t, err, anchor.ErrClosed)
	err = s.View(ctx, func(backend.View) error { return nil })
	require.ErrorIs(t, err, anchor.ErrClosed)
	_, err = tiered.New(s, root, nil).Get(ctx, root)
	require.ErrorIs(t, err, anchor.ErrClosed)
}

func testReopen(t *testing.T, h *Harness) {
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	var ids []anchor.ID
	for i := range 20 {
		n, err := m.Create(anchor.KindNode, "N", map[string]any{"i": i})
		require.NoError(t, err)
		_, err = m.Connect(ctx, root, n, "E", nil)
		require.NoError(t, err)
		ids = append(ids, n)
	}
	require.NoError(t, m.Commit(ctx))
	require.NoError(t, m.Delete(ctx, ids[0]))
	require.NoError(t, m.Commit(ctx))
	before := Meta(t, s)
	last := Stored(t, s, ids[1]).Updated

	s = h.Reopen(s)
	after := Meta(t, s)
	require.Equal(t, before.StoreID, after.StoreID)
	require.Equal(t, before.ReplicaID, after.ReplicaID)
	require.Equal(t, before.Seq, after.Seq)
	require.GreaterOrEqual(t, after.HLC, before.HLC, "the HLC never goes backwards")
	require.Equal(t, 19, EdgeCount(t, s, root))
	m = tiered.New(s, root, nil)
	for i, id := range ids[1:] {
		var v int
		require.NoError(t, m.Field(ctx, id, "i", &v))
		require.Equal(t, i+1, v)
	}
	require.NoError(t, m.Set(ctx, ids[1], "i", 100))
	require.NoError(t, m.Commit(ctx))
	require.Greater(t, Stored(t, s, ids[1]).Updated, last)
	require.Greater(t, Meta(t, s).Seq, before.Seq)
}

// Typed reports whether err carries one of the sentinels a read or write
// may fail with on damaged or conflicting data (corrupt, version, not
// found, deleted, integrity, access, exists): what fuzz and fault tests
// require of every error, as opposed to a raw driver error or a panic.
func Typed(err error) bool {
	for _, s := range []error{anchor.ErrCorrupt, anchor.ErrVersion, anchor.ErrNotFound, anchor.ErrDeleted,
		anchor.ErrIntegrity, anchor.ErrAccessDenied, anchor.ErrExists} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// RequireFailsCleanly applies b to a store with damaged data and requires
// that it fails with one of the want sentinels and leaves the store exactly
// as Verify saw it before (rep): same sequence, anchors, adjacency rows and
// problems.
func RequireFailsCleanly(t testing.TB, s backend.Store, rep *backend.Report, b *delta.Batch, what string, want ...error) {
	t.Helper()
	var before backend.Meta
	_ = s.View(ctx, func(v backend.View) error { before = v.Meta(); return nil })
	err := Apply(ctx, s, b)
	matched := false
	for _, w := range want {
		matched = matched || errors.Is(err, w)
	}
	if !matched {
		t.Fatalf("%s: got %v, want one of %v", what, err, want)
	}
	after, verr := backend.Verify(ctx, s)
	if verr != nil {
		t.Fatal(verr)
	}
	var meta backend.Meta
	_ = s.View(ctx, func(v backend.View) error { meta = v.Meta(); return nil })
	if meta.Seq != before.Seq || after.Anchors != rep.Anchors || after.Adjacency != rep.Adjacency || len(after.Problems) != len(rep.Problems) {
		t.Fatalf("%s failed but changed the store: seq %d -> %d, problems %d -> %d", what, before.Seq, meta.Seq, len(rep.Problems), len(after.Problems))
	}
}

// Apply applies w to s and returns only its error, for tests that do not
// need the delta.Result.
func Apply(ctx context.Context, s backend.Store, w delta.Write) error {
	_, err := s.Apply(ctx, w)
	return err
}
