package backendtest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// testPurgeChunkFault: each chunk of a purge is atomic. A commit that
// fails (as a failing disk would) or a context cancelled after a chunk
// stops the purge with the chunks before it committed and nothing of the
// failed one; the store stays consistent and a later purge finishes.
func testPurgeChunkFault(t *testing.T, driver func(testing.TB, string) backend.Driver) {
	errDisk := errors.New("injected: disk write failed")
	var commits, failAt atomic.Int64
	s := Faulty(t, driver(t, t.TempDir()), func() error {
		if n := commits.Add(1); n == failAt.Load() {
			return errDisk
		}
		return nil
	})
	defer s.Close()
	const n = 120
	root, hub, _, _ := hubGraph(t, s, n, 0)
	before := deleteNode(t, s, root, hub) + 1
	r0 := RequireClean(t, s)
	p := purger(t, s)

	// The second chunk's commit fails.
	failAt.Store(commits.Load() + 2)
	st, err := p.Purge(ctx, before, &backend.PurgeOptions{Chunk: 50})
	require.ErrorIs(t, err, errDisk)
	require.Equal(t, 50, st.Purged, "the first chunk stands")
	require.Equal(t, 1, st.Chunks)
	r := RequireClean(t, s)
	require.Equal(t, r0.Tombstones-50, r.Tombstones, "nothing of the failed chunk")
	require.Equal(t, r0.LogEntries-50, r.LogEntries)

	// A cancelled context stops after the running chunk.
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	st, err = p.Purge(cctx, before, &backend.PurgeOptions{Chunk: 30, Progress: func(backend.PurgeStats) { cancel() }})
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, 30, st.Purged)
	r = RequireClean(t, s)
	require.Equal(t, r0.Tombstones-80, r.Tombstones)

	// A later purge finishes.
	st, err = p.Purge(ctx, before, nil)
	require.NoError(t, err)
	require.Equal(t, n+1-80, st.Purged)
	r = RequireClean(t, s)
	require.Zero(t, r.Tombstones)
	require.Equal(t, r0.Anchors-(n+1), r.Anchors)
	_, err = p.Purge(ctx, anchor.MakeHLC(1, 0), nil)
	require.NoError(t, err)
}
