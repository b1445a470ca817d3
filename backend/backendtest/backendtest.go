// Package backendtest holds the suites every Anchorage backend runs
// unchanged: conformance (Run), faults through a wrapped driver
// (RunFaults) and limits (RunLimits), with a harness that runs Verify
// after every test. Package backends runs them all on every backend.
package backendtest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

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
		{"ConnectAndChangeEndInOneBatch", testConnectAndChangeEnd},
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
		{"HeldEdgeKeepsPrincipal", testHeldEdgeKeepsPrincipal},
		{"InvalidInputIsolated", testInvalidInputIsolated},
		{"DeniedLeavesNoTrace", testDeniedLeavesNoTrace},
		{"ReadRechecked", testReadRechecked},
		{"DeleteReadYourWrites", testDeleteReadYourWrites},
		{"StaleRemoveSucceeds", testStaleRemoveSucceeds},
		{"OnlyOwnerChangesAccess", testOnlyOwnerChangesAccess},
		{"MergeMetaAndCursor", testMergeMetaAndCursor},
		{"MergeRefusesHeaderChanges", testMergeRefusesHeaderChanges},
		{"HeldEdgesWaitForHub", testHeldEdgesWaitForHub},
		{"HeldEdgeRacesItsNode", testHeldEdgeRacesItsNode},
		{"MergeTieTakesGreaterOrigin", testMergeTieTakesGreaterOrigin},
		{"Restore", testRestore},
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
