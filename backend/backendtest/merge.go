package backendtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// testMergeMetaAndCursor: what a backend owes replication. A Merge stores
// its small values (import cursors) in the same transaction as the
// anchors, View.MetaValue reads them back (nil for a missing key), and
// applying the same Merge again changes nothing: no write, no log entry.
func testMergeMetaAndCursor(t *testing.T, h *Harness) {
	s := h.Open()
	var missing []byte
	require.NoError(t, s.View(ctx, func(v backend.View) (err error) { missing, err = v.MetaValue("import/none"); return err }))
	require.Nil(t, missing)

	from, owner := anchor.NewID(), anchor.NewID()
	stamp := Meta(t, s).HLC + 10
	v, err := anchor.EncodeValue("remote")
	require.NoError(t, err)
	n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "Remote",
		Created: stamp, Updated: stamp, Fields: map[string]anchor.Field{"v": {Value: v, Stamp: stamp}}}
	m := &delta.Merge{From: from, Anchors: []*anchor.Anchor{n}, Meta: map[string][]byte{"import/x": []byte("cursor-1")}}
	res, err := s.Apply(ctx, m)
	require.NoError(t, err)
	require.Equal(t, 1, res.Stats.Total().Inserted)
	var got []byte
	require.NoError(t, s.View(ctx, func(v backend.View) (err error) { got, err = v.MetaValue("import/x"); return err }))
	require.Equal(t, []byte("cursor-1"), got)
	stored := Stored(t, s, n.ID)
	require.Equal(t, from, stored.Fields["v"].Origin, "a merged field keeps the replica it came from")
	require.GreaterOrEqual(t, Meta(t, s).HLC, stamp, "the store's clock observed the merged stamps")

	seq := Meta(t, s).Seq
	res, err = s.Apply(ctx, &delta.Merge{From: from, Anchors: []*anchor.Anchor{n}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Stats.Total().Skipped)
	require.Equal(t, seq, Meta(t, s).Seq, "re-applying the same state logs nothing")
	require.Equal(t, stored, Stored(t, s, n.ID))
}
