package backendtest

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/replica"
)

// BigFieldBytes is the size of the large field RunBigField stores by
// default: 4 MiB keeps the suite's time and memory small on every
// backend; the same test at 64 MiB (issue 9's size) runs with
//
//	ANCHORAGE_BIGFIELD_MIB=64 go test -run 'TestBackends/.*/BigField' ./backend/
const BigFieldBytes = 4 << 20

// BigFieldLimits are the write limits a store needs for RunBigField with
// a field of size bytes.
func BigFieldLimits(size int) delta.Limits {
	return delta.Limits{MaxValueBytes: max(size+1<<20, delta.DefaultMaxValueBytes)}
}

// RunBigField pins issue 9's "a small change rewrites a large field": a
// field of size bytes, kept out of line by every backend, must come back
// exactly (value, stamp, origin) after small Sets of another field,
// Connects to and from its node, replacing it and shrinking it, a reopen,
// an export and import into another store (twice, the second a merge
// over what the first stored), and both stores must Verify clean.
//
// open must give stores whose limits allow the field (BigFieldLimits).
func RunBigField(t *testing.T, open Opener, size int) {
	h := New(t, open)
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})

	blob := func(seed uint64) []byte {
		raw := make([]byte, size)
		r := rand.New(rand.NewPCG(seed, seed))
		for i := 0; i+8 <= len(raw); i += 8 {
			v := r.Uint64()
			for j := range 8 {
				raw[i+j] = byte(v >> (8 * j))
			}
		}
		v, err := anchor.EncodeValue(raw)
		require.NoError(t, err)
		return v
	}
	small := func(i int) []byte {
		v, err := anchor.EncodeValue(i)
		require.NoError(t, err)
		return v
	}
	n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Blob",
		Fields: map[string]anchor.Field{"blob": {Value: blob(1)}, "n": {Value: small(0)}}}
	require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}}}))
	want := Stored(t, s, n.ID).Fields["blob"]
	require.Equal(t, n.Fields["blob"].Value, want.Value, "stored as created")
	require.Nil(t, want.Ref, "a View returns values, not references")
	check := func(s backend.Store, what string, want anchor.Field) {
		t.Helper()
		got := Stored(t, s, n.ID).Fields["blob"]
		require.Nil(t, got.Ref, what)
		require.True(t, bytes.Equal(want.Value, got.Value), "%s: value of %d bytes, want %d", what, len(got.Value), len(want.Value))
		require.Equal(t, want.Stamp, got.Stamp, what)
		require.Equal(t, want.Origin, got.Origin, what)
	}

	set := func(s backend.Store, name string, v []byte) {
		t.Helper()
		require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Set: map[string][]byte{name: v}}}}))
	}
	connect := func(from, to anchor.ID) {
		t.Helper()
		e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "Link", Source: from, Target: to}
		require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: e.ID, Create: e}}}))
	}
	for i := 1; i <= 3; i++ {
		set(s, "n", small(i))
		connect(root, n.ID)
		connect(n.ID, root)
		check(s, "after small sets and connects", want)
	}
	set(s, "blob", n.Fields["blob"].Value) // the same value: nothing changes
	check(s, "after setting the same value", want)
	require.Equal(t, small(3), Stored(t, s, n.ID).Fields["n"].Value)

	set(s, "blob", blob(2)) // replaced by another large value
	want = Stored(t, s, n.ID).Fields["blob"]
	require.Equal(t, blob(2), want.Value)
	set(s, "blob", small(7)) // shrunk: its out-of-line row goes
	require.Equal(t, small(7), Stored(t, s, n.ID).Fields["blob"].Value)
	RequireClean(t, s)
	set(s, "blob", blob(3))
	set(s, "n", small(8))
	want = Stored(t, s, n.ID).Fields["blob"]
	require.Equal(t, blob(3), want.Value)

	s = h.Reopen(s)
	check(s, "after reopen", want)
	set(s, "n", small(9))
	check(s, "after a set after reopen", want)
	RequireClean(t, s)

	// Export and import carry the whole value; the import (a merge) gives
	// fields written by the source replica its ID as origin.
	src := Meta(t, s).ReplicaID
	h2 := New(t, open)
	dst := h2.Open()
	exported := want
	exported.Origin = src
	wantN := small(9)
	for round := range 2 {
		var buf bytes.Buffer
		_, err := replica.Export(ctx, s, &buf, nil)
		require.NoError(t, err)
		_, err = replica.Import(ctx, dst, &buf, nil)
		require.NoError(t, err)
		check(dst, "after import", exported)
		require.Equal(t, wantN, Stored(t, dst, n.ID).Fields["n"].Value)
		if round == 0 {
			wantN = small(10)
			set(s, "n", wantN) // the second import merges into what the first stored
		}
	}
	RequireClean(t, dst)
	dst = h2.Reopen(dst)
	check(dst, "imported, after reopen", exported)
}

// RunBigFieldUnread checks, below the engine, that the large field is
// left alone: a small Set of another field writes the anchor back with
// the large field as a reference (never read, never rewritten), and a
// Connect to the node does not write the node at all. driver opens the
// bare driver of the store kept in dir.
func RunBigFieldUnread(t *testing.T, driver func(t testing.TB, dir string) backend.Driver) {
	var puts []anchor.Anchor
	s := Hooked(t, driver(t, t.TempDir()), Hooks{Put: func(a *anchor.Anchor) error {
		puts = append(puts, *a)
		return nil
	}}, &backend.Options{Limits: BigFieldLimits(anchor.OutOfLine)})
	defer func() {
		RequireClean(t, s)
		require.NoError(t, s.Close())
	}()
	root := NewRootNode(t, s, anchor.Access{})
	big, err := anchor.EncodeValue(bytes.Repeat([]byte{7}, anchor.OutOfLine))
	require.NoError(t, err)
	n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Blob",
		Fields: map[string]anchor.Field{"blob": {Value: big}}}
	require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}}}))

	puts = nil
	require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Set: map[string][]byte{"n": {1}}}}}))
	require.Len(t, puts, 1)
	f := puts[0].Fields["blob"]
	require.NotNil(t, f.Ref, "a small Set wrote the large field back read")
	require.Nil(t, f.Value)
	require.Equal(t, int64(len(big)), f.Ref.Size)

	puts = nil
	e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "Link", Source: root, Target: n.ID}
	require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: e.ID, Create: e}}}))
	for _, a := range puts {
		require.NotEqual(t, n.ID, a.ID, "a Connect rewrote its endpoint")
	}
	require.Equal(t, big, Stored(t, s, n.ID).Fields["blob"].Value)
}
