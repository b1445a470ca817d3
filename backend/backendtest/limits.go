package backendtest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// RunLimits pins issue 9's hostile sizes: there was no limit on a field's
// size, the fields of an anchor or the changes of one batch, so one
// walker's oversized write held the writer for minutes. Each limit now
// refuses the write alone with anchor.ErrTooLarge, writes nothing, and the
// walkers committing beside it are not affected.
//
// open must give stores with LimitsOptions.
func RunLimits(t *testing.T, open Opener) {
	h := New(t, open)
	s := h.Open()
	root := NewRootNode(t, s, anchor.Access{})

	m := tiered.New(s, root, nil)
	big := make([]byte, 4<<10+1) // over MaxValueBytes = 4 KiB
	n, err := m.Create(anchor.KindNode, "Blob", map[string]any{"data": big})
	require.NoError(t, err)
	var wg sync.WaitGroup
	var innocent error
	wg.Go(func() { innocent = addNode(s, root) })
	err = m.Commit(ctx)
	wg.Wait()
	require.ErrorIs(t, err, anchor.ErrTooLarge)
	require.NoError(t, innocent)
	m.Abort()

	fields := map[string]any{}
	for i := range 8 { // MaxFields = 8
		fields[fmt.Sprintf("f%d", i)] = i
	}
	n, err = m.Create(anchor.KindNode, "Wide", fields)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx), "at the limit")
	require.NoError(t, m.Set(ctx, n, "one-more", 1))
	require.ErrorIs(t, m.Commit(ctx), anchor.ErrTooLarge, "a ninth field")
	require.Len(t, Stored(t, s, n).Fields, 8)
	m.Abort()

	b := &delta.Batch{Root: root}
	for range 17 { // MaxChanges = 16
		a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "N"}
		b.Changes = append(b.Changes, delta.Change{ID: a.ID, Create: a})
	}
	seq := Meta(t, s).Seq
	require.ErrorIs(t, Apply(ctx, s, b), anchor.ErrTooLarge)
	require.Equal(t, seq, Meta(t, s).Seq, "nothing of it landed")
	b.Changes = b.Changes[:16]
	require.NoError(t, Apply(ctx, s, b), "at the limit")

	// A merge (replication) is held to the same limits: its anchors, each
	// anchor's fields and each value.
	stamp := Meta(t, s).HLC + 10
	remote := func(fields int, size int) *anchor.Anchor {
		a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "R", Created: stamp, Updated: stamp, Fields: map[string]anchor.Field{}}
		for i := range fields {
			a.Fields[fmt.Sprintf("f%d", i)] = anchor.Field{Value: make([]byte, size), Stamp: stamp}
		}
		return a
	}
	merges := map[string]*delta.Merge{
		"17 anchors": {From: anchor.NewID()},
		"9 fields":   {From: anchor.NewID(), Anchors: []*anchor.Anchor{remote(9, 1)}},
		"big value":  {From: anchor.NewID(), Anchors: []*anchor.Anchor{remote(1, 4<<10+1)}},
	}
	for range 17 {
		merges["17 anchors"].Anchors = append(merges["17 anchors"].Anchors, remote(1, 1))
	}
	for name, mg := range merges {
		seq := Meta(t, s).Seq
		_, err := s.Apply(ctx, mg)
		require.ErrorIs(t, err, anchor.ErrTooLarge, name)
		require.Equal(t, seq, Meta(t, s).Seq, "%s: nothing of it landed", name)
	}
	full := remote(8, 4<<10)
	_, err = s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{full}})
	require.NoError(t, err, "a merge at the limits")

	// A record whose fields, with the stored ones, would pass MaxFields is
	// refused alone: merges cannot grow an anchor past what a walker may.
	wider := &anchor.Anchor{ID: full.ID, Kind: full.Kind, Owner: full.Owner, Type: full.Type, Created: stamp, Updated: stamp + 1,
		Fields: map[string]anchor.Field{"g0": {Value: []byte{1}, Stamp: stamp + 1}}}
	before := Stored(t, s, full.ID)
	res, err := s.Apply(ctx, &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{wider, remote(1, 1)}})
	require.NoError(t, err)
	require.Len(t, res.Stats.Refusals, 1)
	require.Equal(t, full.ID, res.Stats.Refusals[0].ID)
	require.Contains(t, res.Stats.Refusals[0].Reason, "9 fields")
	require.Equal(t, 1, res.Stats.Total().Inserted, "the rest of the merge lands")
	require.Equal(t, before, Stored(t, s, full.ID))
}

// LimitsOptions are the small limits RunLimits expects.
var LimitsOptions = backend.Options{Limits: delta.Limits{MaxValueBytes: 4 << 10, MaxFields: 8, MaxChanges: 16}}
