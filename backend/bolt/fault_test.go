package bolt_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestFullDisk: a commit that needs more space than the store may take
// fails with ErrFull, writes nothing, and the store works again once space
// returns (reopened with a larger cap).
func TestFullDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "full.db")
	s, err := bolt.Open(path, &bolt.Options{MaxSize: 256 << 10})
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	ctx := context.Background()
	m := tiered.New(s, root, nil)
	committed := 0
	big := make([]byte, 4<<10)
	for i := 0; ; i++ {
		n, err := m.Create(anchor.KindNode, "Blob", map[string]any{"data": big})
		require.NoError(t, err)
		_, err = m.Connect(ctx, root, n, "Has", nil)
		require.NoError(t, err)
		err = m.Commit(ctx)
		if err != nil {
			require.ErrorIs(t, err, anchor.ErrFull)
			break
		}
		committed++
		require.Less(t, i, 10000, "the size cap never bit")
	}
	require.Greater(t, committed, 0)
	require.Equal(t, committed, backendtest.EdgeCount(t, s, root), "the failed commit left nothing behind")
	backendtest.RequireClean(t, s)
	require.NoError(t, s.Close())

	s, err = bolt.Open(path, &bolt.Options{MaxSize: 64 << 20})
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, committed, backendtest.EdgeCount(t, s, root))
	m = tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "Blob", map[string]any{"data": big})
	require.NoError(t, err)
	_, err = m.Connect(ctx, root, n, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	require.Equal(t, committed+1, backendtest.EdgeCount(t, s, root))
	backendtest.RequireClean(t, s)
}

// TestWriteFault: an I/O error inside the write transaction reaches the
// walker, nothing of its batch lands, L1 keeps the changes, and the retry
// works once the fault is gone.
func TestWriteFault(t *testing.T) {
	var fail atomic.Bool
	boom := errors.New("injected write error")
	s, err := bolt.Open(filepath.Join(t.TempDir(), "fault.db"), &bolt.Options{WriteFault: func() error {
		if fail.Load() {
			return boom
		}
		return nil
	}})
	require.NoError(t, err)
	defer s.Close()
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	ctx := context.Background()
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "N", nil)
	require.NoError(t, err)
	_, err = m.Connect(ctx, root, n, "E", nil)
	require.NoError(t, err)
	fail.Store(true)
	require.ErrorIs(t, m.Commit(ctx), boom)
	require.Zero(t, backendtest.EdgeCount(t, s, root))
	require.Equal(t, 2, m.Dirty(), "L1 keeps the node and the edge after a failed commit")
	fail.Store(false)
	require.NoError(t, m.Commit(ctx), "retrying the same walker's commit works")
	require.Equal(t, 1, backendtest.EdgeCount(t, s, root))
	backendtest.RequireClean(t, s)
}
