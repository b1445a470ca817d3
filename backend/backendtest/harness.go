package backendtest

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
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
