package backendtest

import (
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// RunFind runs the read-side suite on the store open returns: walkers
// that find what they need (typed, paged traversal, lookups by archetype
// and by declared index, snapshot reads) and create exactly once
// (create-once edges, unique indexes), with every index equal to its
// rebuild from the anchors (Verify).
func RunFind(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, *Harness)
	}{
		{"FindOrCreateOnce", testFindOrCreateOnce},
		{"UniqueUsername", testUniqueUsername},
		{"CreateOnceRefusesSecondEdge", testCreateOnceRefusesSecond},
		{"TypedPagedTraversal", testTypedTraversal},
		{"InsertionOrderAnyIDs", testInsertionOrder},
		{"LookupsAndDeclare", testLookups},
		{"SnapshotReads", testSnapshotReads},
		{"ValidateReads", testValidateReads},
		{"VerifyFindsIndexDamage", testVerifyIndexDamage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, New(t, open)) })
	}
}

// Declare declares ix on s.
func Declare(t testing.TB, s backend.Store, ix delta.Indexes) {
	t.Helper()
	_, err := s.Apply(ctx, &delta.Declare{Indexes: ix})
	require.NoError(t, err)
}

// together runs fn(i) for i in [0, n) on n goroutines released at once.
func together(n int, fn func(i int)) {
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			fn(i)
		}()
	}
	start.Done()
	done.Wait()
}

// countType returns how many records (tombstones too) of archetype typ s
// stores, by a full scan.
func countType(t testing.TB, s backend.Store, typ string) int {
	t.Helper()
	n := 0
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		return v.Anchors(func(_ anchor.ID, a *anchor.Anchor, err error) error {
			if err == nil && a.Type == typ {
				n++
			}
			return err
		})
	}))
	return n
}

// testFindOrCreateOnce is the original bug report's "me" walker: 32
// concurrent first calls on a new root ("find the root's profile or make
// one") stored 32 profiles. Now each gets the same profile, with no error,
// and exactly one profile and one profile edge are stored.
func testFindOrCreateOnce(t *testing.T, h *Harness) {
	s := h.Open()
	Declare(t, s, delta.Indexes{Once: []string{"HasProfile"}})
	root, err := tiered.CreateRoot(ctx, s, map[string]any{"user": "ada"})
	require.NoError(t, err)
	const n = 32
	ids := make([]anchor.ID, n)
	errs := make([]error, n)
	together(n, func(i int) {
		m := tiered.New(s, root, nil)
		p, _, err := m.FindOrCreate(ctx, root, "HasProfile", anchor.KindNode, "UserProfile", map[string]any{"visits": 0})
		if err == nil {
			ids[i] = p.ID
		}
		errs[i] = err
	})
	for i := range n {
		require.NoError(t, errs[i], "walker %d", i)
		require.Equal(t, ids[0], ids[i], "walker %d got another profile", i)
	}
	require.Equal(t, 1, countType(t, s, "UserProfile"), "exactly one profile stored, no orphan")
	require.Equal(t, 1, countType(t, s, "HasProfile"), "exactly one profile edge stored")
	m := tiered.New(s, root, nil)
	p, created, err := m.FindOrCreate(ctx, root, "HasProfile", anchor.KindNode, "UserProfile", nil)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, ids[0], p.ID)
	RequireClean(t, s)

	_, _, err = m.FindOrCreate(ctx, root, "Undeclared", anchor.KindNode, "X", nil)
	require.ErrorIs(t, err, anchor.ErrNoIndex)
}

// testUniqueUsername: 32 concurrent registrations of one user name; one
// lands, every other gets a *delta.UniqueError naming the index and value.
func testUniqueUsername(t *testing.T, h *Harness) {
	s := h.Open()
	Declare(t, s, delta.Indexes{Fields: []delta.FieldIndex{{Type: "User", Field: "name", Unique: true}}})
	const n = 32
	errs := make([]error, n)
	together(n, func(i int) {
		root, err := tiered.CreateRoot(ctx, s, nil)
		if err != nil {
			errs[i] = err
			return
		}
		m := tiered.New(s, root, nil)
		if _, err := m.Create(anchor.KindNode, "User", map[string]any{"name": "ada", "n": i}); err != nil {
			errs[i] = err
			return
		}
		errs[i] = m.Commit(ctx)
	})
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
			continue
		}
		require.ErrorIs(t, err, anchor.ErrUnique)
		var ue *delta.UniqueError
		require.True(t, errors.As(err, &ue), "%v", err)
		require.Equal(t, "User.name", ue.Index)
		require.Equal(t, "ada", ue.Value)
	}
	require.Equal(t, 1, ok, "exactly one registration lands")
	require.Equal(t, 1, countType(t, s, "User"))
	found, err := tiered.New(s, anchor.SystemRoot, nil).Lookup(ctx, "User", "name", "ada")
	require.NoError(t, err)
	require.Len(t, found, 1)

	// Renaming frees the old name and takes the new one.
	owner := found[0].Owner
	m := tiered.New(s, owner, nil)
	require.NoError(t, m.Set(ctx, found[0].ID, "name", "bob"))
	require.NoError(t, m.Commit(ctx))
	again := tiered.New(s, owner, nil)
	_, err = again.Create(anchor.KindNode, "User", map[string]any{"name": "ada"})
	require.NoError(t, err)
	require.NoError(t, again.Commit(ctx), "the old name is free again")
	RequireClean(t, s)
}

// testCreateOnceRefusesSecond: a plain Connect cannot give a node a second
// edge of a create-once type; deleting the first frees the slot.
func testCreateOnceRefusesSecond(t *testing.T, h *Harness) {
	s := h.Open()
	Declare(t, s, delta.Indexes{Once: []string{"HasProfile"}})
	root, err := tiered.CreateRoot(ctx, s, nil)
	require.NoError(t, err)
	m := tiered.New(s, root, nil)
	p1, _ := m.Create(anchor.KindNode, "UserProfile", nil)
	e1, err := m.Connect(ctx, root, p1, "HasProfile", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))

	p2, _ := m.Create(anchor.KindNode, "UserProfile", nil)
	_, err = m.Connect(ctx, root, p2, "HasProfile", nil)
	require.NoError(t, err)
	err = m.Commit(ctx)
	require.ErrorIs(t, err, anchor.ErrUnique)
	var ue *delta.UniqueError
	require.ErrorAs(t, err, &ue)
	require.Equal(t, "once HasProfile", ue.Index)
	require.Equal(t, e1, ue.Holder)
	m.Abort()

	require.NoError(t, m.Disconnect(ctx, e1))
	require.NoError(t, m.Commit(ctx))
	got, created, err := m.FindOrCreate(ctx, root, "HasProfile", anchor.KindNode, "UserProfile", nil)
	require.NoError(t, err)
	require.True(t, created, "the slot is free once the edge is gone")
	require.NotEqual(t, p1, got.ID)
	RequireClean(t, s)
}
