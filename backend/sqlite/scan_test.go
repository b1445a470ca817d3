package sqlite_test

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/delta"
)

// Index scans of a View step a statement of their own on the View's
// connection, in batches (see scan.go). These tests give them more edges
// than one batch holds.
const scanEdges = 700

// starStore returns a store whose root has scanEdges edges, each to a
// node of its own, and the peers.
func starStore(t *testing.T, opts *sqlite.Options) (*sqlite.Store, anchor.ID, []anchor.ID) {
	t.Helper()
	s, err := sqlite.Open(filepath.Join(t.TempDir(), "star.sqlite"), opts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	b := &delta.Batch{Root: root}
	var peers []anchor.ID
	for range scanEdges {
		n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Peer"}
		e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "Has", Source: root, Target: n.ID}
		b.Changes = append(b.Changes, delta.Change{ID: n.ID, Create: n}, delta.Change{ID: e.ID, Create: e})
		peers = append(peers, n.ID)
	}
	require.NoError(t, backendtest.Apply(ctx, s, b))
	return s, root, peers
}

// TestScanNested: a scan's callback may read through the View, list
// another node's edges (a second scan, beside the first on the same
// connection) and stop a scan early; the View's scans afterwards see
// every entry.
func TestScanNested(t *testing.T) {
	s, root, peers := starStore(t, nil)
	errStop := errors.New("stop")
	err := s.View(ctx, func(v backend.View) error {
		var got []anchor.ID
		err := v.Adjacent(root, func(r anchor.Adj) error {
			got = append(got, r.Peer)
			if len(got)%97 == 1 {
				if _, err := v.Anchor(r.Peer); err != nil {
					return err
				}
				var back []anchor.ID
				if err := v.Adjacent(r.Peer, func(p anchor.Adj) error { back = append(back, p.Peer); return nil }); err != nil {
					return err
				}
				require.Equal(t, []anchor.ID{root}, back)
				n := 0
				err := v.Adjacent(root, func(anchor.Adj) error {
					if n++; n == 300 {
						return errStop
					}
					return nil
				})
				require.ErrorIs(t, err, errStop, "a nested scan stopped by its callback")
			}
			return nil
		})
		require.NoError(t, err)
		require.ElementsMatch(t, peers, got)
		first := append([]anchor.ID(nil), got...)
		n := 0
		require.ErrorIs(t, v.Adjacent(root, func(anchor.Adj) error {
			if n++; n == scanEdges/2 {
				return errStop
			}
			return nil
		}), errStop)
		require.Equal(t, scanEdges, backendtest.EdgeCount(t, s, root))
		got = got[:0]
		require.NoError(t, v.Adjacent(root, func(r anchor.Adj) error { got = append(got, r.Peer); return nil }))
		require.Equal(t, first, got, "a scan after one stopped early")
		return nil
	})
	require.NoError(t, err)
}

// TestScanSnapshot: a View's scans read its snapshot, however the store
// changes meanwhile, also in the batches that follow such a change.
func TestScanSnapshot(t *testing.T) {
	s, root, peers := starStore(t, nil)
	err := s.View(ctx, func(v backend.View) error {
		n := 0
		err := v.Adjacent(root, func(anchor.Adj) error {
			if n++; n == 1 {
				more := &delta.Batch{Root: root}
				for range 50 {
					p := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Peer"}
					e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: root, Type: "Has", Source: root, Target: p.ID}
					more.Changes = append(more.Changes, delta.Change{ID: p.ID, Create: p}, delta.Change{ID: e.ID, Create: e})
				}
				more.Changes = append(more.Changes, delta.Change{ID: peers[len(peers)-1], Delete: true})
				require.NoError(t, backendtest.Apply(ctx, s, more))
			}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, scanEdges, n, "the scan that saw the write")
		n = 0
		require.NoError(t, v.Adjacent(root, func(anchor.Adj) error { n++; return nil }))
		require.Equal(t, scanEdges, n, "a later scan of the same View")
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, scanEdges+50-1, backendtest.EdgeCount(t, s, root))
}

// TestScanMaxViewAge: a scan whose View outlives Options.MaxViewAge
// stops at its next batch with an error wrapping anchor.ErrBusy, and
// leaves nothing that pins the log.
func TestScanMaxViewAge(t *testing.T) {
	s, root, _ := starStore(t, &sqlite.Options{WALLimit: 1 << 20, MaxViewAge: 50 * time.Millisecond, Synchronous: sqlite.SyncNormal})
	err := s.View(ctx, func(v backend.View) error {
		n := 0
		err := v.Adjacent(root, func(anchor.Adj) error {
			if n++; n == 1 {
				time.Sleep(100 * time.Millisecond)
			}
			return nil
		})
		require.ErrorIs(t, err, anchor.ErrBusy)
		require.Less(t, n, scanEdges, "the scan went on past its View's age")
		writeBig(t, s, root, 400)
		require.LessOrEqual(t, walBytes(t, s), int64(6<<20), "an expired View's scan must not pin the log")
		return nil
	})
	require.NoError(t, err)
}
