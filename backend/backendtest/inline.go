package backendtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// The drivers' upgrade tests for large values written inline by builds
// before out-of-line values share their start and their end.

// NewBlobNode stores on s a root and a node of type Blob whose field
// "blob" holds a small value, and returns the root and the node as stored.
// A driver's upgrade test then gives the stored record a large "blob"
// value inline (InlineRecord), as an older build would have written it.
func NewBlobNode(t testing.TB, s backend.Store) (root anchor.ID, n *anchor.Anchor) {
	t.Helper()
	root = NewRootNode(t, s, anchor.Access{})
	n = &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Blob",
		Fields: map[string]anchor.Field{"blob": {Value: []byte{0}}}}
	require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}}}))
	return root, Stored(t, s, n.ID)
}

// InlineRecord returns n's record with field "blob" holding big (the
// field's stamp kept) in the inline record format older builds wrote.
func InlineRecord(t testing.TB, n *anchor.Anchor, big []byte) []byte {
	t.Helper()
	n = n.Clone()
	n.Fields["blob"] = anchor.Field{Value: big, Stamp: n.Fields["blob"].Stamp}
	rec, err := anchor.Marshal(n) // no references: the inline format-1 record
	require.NoError(t, err)
	require.Equal(t, anchor.FormatVersion, rec[0])
	return rec
}

// RequireUpgradedKeepsBlob checks a store s just upgraded to schema: it
// reads "blob" of n as big, and a small Set of another field of n (which
// moves the value out of line) leaves "blob" exactly as it was, value and
// stamp; Verify is clean.
func RequireUpgradedKeepsBlob(t testing.TB, s backend.Store, schema int, root anchor.ID, n *anchor.Anchor, big []byte) {
	t.Helper()
	require.Equal(t, schema, Meta(t, s).Schema)
	require.Equal(t, big, Stored(t, s, n.ID).Fields["blob"].Value)
	require.NoError(t, Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Set: map[string][]byte{"n": {1}}}}}))
	require.Equal(t, anchor.Field{Value: big, Stamp: n.Fields["blob"].Stamp}, Stored(t, s, n.ID).Fields["blob"])
	RequireClean(t, s)
}
