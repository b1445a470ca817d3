package backendtest

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/tiered"
)

// FaultOpeners open a backend's store with the faults the fault suite
// injects.
type FaultOpeners struct {
	// Limited opens the store in dir with a small size cap (about 256 KiB)
	// when small is true, and a roomy one (64 MiB or more) when false: a
	// full disk, and the space coming back.
	Limited func(t testing.TB, dir string, small bool) backend.Store
	// Faulty opens the store in dir so that every write transaction calls
	// fault just before it commits and fails with its error.
	Faulty func(t testing.TB, dir string, fault func() error) backend.Store
}

// RunFaults runs the fault suite: a full disk and an injected write error
// each reach the committing walker, write nothing, leave the store
// consistent, and the store works again once the fault is gone.
func RunFaults(t *testing.T, o FaultOpeners) {
	t.Run("FullDisk", func(t *testing.T) { testFullDisk(t, o.Limited) })
	t.Run("WriteFault", func(t *testing.T) { testWriteFault(t, o.Faulty) })
}

func addBlob(t *testing.T, m *tiered.Memory, root anchor.ID, big []byte) error {
	n, err := m.Create(anchor.KindNode, "Blob", map[string]any{"data": big})
	require.NoError(t, err)
	_, err = m.Connect(ctx, root, n, "Has", nil)
	require.NoError(t, err)
	return m.Commit(ctx)
}

func testFullDisk(t *testing.T, open func(testing.TB, string, bool) backend.Store) {
	dir := t.TempDir()
	s := open(t, dir, true)
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	committed := 0
	big := make([]byte, 4<<10)
	for {
		err := addBlob(t, m, root, big)
		if err != nil {
			require.ErrorIs(t, err, anchor.ErrFull)
			break
		}
		committed++
		require.Less(t, committed, 10000, "the size cap never bit")
	}
	require.Positive(t, committed)
	require.Equal(t, committed, EdgeCount(t, s, root), "the failed commit left nothing behind")
	RequireClean(t, s)
	require.NoError(t, s.Close())

	s = open(t, dir, false)
	defer s.Close()
	require.Equal(t, committed, EdgeCount(t, s, root))
	m = tiered.New(s, root, nil)
	require.NoError(t, addBlob(t, m, root, big), "space is back")
	require.Equal(t, committed+1, EdgeCount(t, s, root))
	RequireClean(t, s)
}

func testWriteFault(t *testing.T, open func(testing.TB, string, func() error) backend.Store) {
	var fail atomic.Bool
	boom := errors.New("injected write error")
	s := open(t, t.TempDir(), func() error {
		if fail.Load() {
			return boom
		}
		return nil
	})
	defer s.Close()
	root := NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "N", nil)
	require.NoError(t, err)
	_, err = m.Connect(ctx, root, n, "E", nil)
	require.NoError(t, err)
	fail.Store(true)
	require.ErrorIs(t, m.Commit(ctx), boom)
	require.Zero(t, EdgeCount(t, s, root))
	_, err = tiered.New(s, root, nil).Get(ctx, n)
	require.ErrorIs(t, err, anchor.ErrNotFound)
	require.Equal(t, 2, m.Dirty(), "L1 keeps the node and the edge after a failed commit")
	fail.Store(false)
	require.NoError(t, m.Commit(ctx), "retrying the same walker's commit works")
	require.Equal(t, 1, EdgeCount(t, s, root))
	RequireClean(t, s)
}
