package replica_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestClockGlitchDeliveredLater: store A writes with its clock an hour
// ahead, then its clock is corrected and it writes more (stamped after its
// earlier writes: an HLC never goes back). B refuses everything stamped
// beyond its bound, but its cursor stays before those records: syncing
// again changes nothing while the bound forbids them, a re-import of the
// same file retries the refused chunks, and once B's clock allows, every
// record arrives and the stores are identical.
func TestClockGlitchDeliveredLater(t *testing.T) {
	now := time.Now()
	ca, cb := &fakeClock{}, &fakeClock{}
	ca.ms.Store(now.UnixMilli())
	cb.ms.Store(now.UnixMilli())
	a := backendtest.New(t, openWith(ca.now)).Open()
	b := backendtest.New(t, openWith(cb.now)).Open()
	opts := &replica.ImportOptions{Now: cb.now}

	root := backendtest.NewRootNode(t, a, anchor.Access{})
	_, err := replica.Sync(ctx, a, b, opts)
	require.NoError(t, err)

	ca.ms.Add(time.Hour.Milliseconds()) // the glitch
	m := tiered.New(a, root, nil)
	early, err := m.Create(anchor.KindNode, "Early", nil)
	require.NoError(t, err)
	require.NoError(t, m.Set(ctx, root, "x", 1))
	require.NoError(t, m.Commit(ctx))
	ca.ms.Add(-time.Hour.Milliseconds()) // corrected
	m = tiered.New(a, root, nil)
	late, err := m.Create(anchor.KindNode, "Late", nil)
	require.NoError(t, err)
	_, err = m.Connect(ctx, early, late, "E", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))

	file := exportBytes(t, a, nil)
	for range 2 {
		res, err := replica.Sync(ctx, a, b, opts)
		require.NoError(t, err)
		require.Equal(t, 4, res.Import.Later, "root, Early, Late and the edge are all ahead")
		for _, r := range res.Import.Stats.Refusals {
			require.True(t, r.Retry, "%+v", r)
		}
	}
	cur, _, err := replica.ReadCursor(ctx, b, backendtest.Meta(t, a).StoreID)
	require.NoError(t, err)
	require.Less(t, cur.Through, backendtest.Meta(t, a).Seq, "the cursor stays before the refused records")

	res, err := replica.Import(ctx, b, bytes.NewReader(file), opts)
	require.NoError(t, err)
	require.Equal(t, 4, res.Later)
	require.Greater(t, res.Ahead, 59*time.Minute, "the import says how far the source's clock runs ahead")
	cb.ms.Add(time.Hour.Milliseconds() + 2*time.Minute.Milliseconds()) // B's bound now allows them
	res, err = replica.Import(ctx, b, bytes.NewReader(file), opts)
	require.NoError(t, err)
	require.Zero(t, res.Later)
	require.Positive(t, res.Chunks, "the chunks with refusals are applied again")
	requireSameDumps(t, a, b)

	// And by sync, from a fresh store that missed the file.
	c := backendtest.New(t, openWith(cb.now)).Open()
	cb.ms.Add(-time.Hour.Milliseconds())
	res2, err := replica.Sync(ctx, a, c, opts)
	require.NoError(t, err)
	require.Equal(t, 4, res2.Import.Later)
	cb.ms.Add(time.Hour.Milliseconds())
	res2, err = replica.Sync(ctx, a, c, opts)
	require.NoError(t, err)
	require.Zero(t, res2.Import.Later)
	requireSameDumps(t, a, c)
}

// TestGlitchedClockRecovers: after a glitch an HLC never goes back (its
// own later writes must order after its earlier ones), also across a
// reopen; once its wall clock passes the glitched stamps it stamps wall
// time again, so the lead is bounded by the glitch and shrinks with time.
func TestGlitchedClockRecovers(t *testing.T) {
	now := time.Now()
	c := &fakeClock{}
	c.ms.Store(now.Add(time.Hour).UnixMilli())
	h := backendtest.New(t, openWith(c.now))
	s := h.Open()
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	glitched := backendtest.Stored(t, s, root).Updated
	c.ms.Store(now.UnixMilli())
	s = h.Reopen(s)
	set := func(v int) anchor.HLC {
		m := tiered.New(s, root, nil)
		require.NoError(t, m.Set(ctx, root, "v", v))
		require.NoError(t, m.Commit(ctx))
		return backendtest.Stored(t, s, root).Fields["v"].Stamp
	}
	require.Greater(t, set(1), glitched, "never backwards")
	c.ms.Store(now.Add(time.Hour + time.Second).UnixMilli())
	require.Equal(t, anchor.MakeHLC(c.ms.Load(), 0), set(2), "wall time again once it passed the glitch")
}
