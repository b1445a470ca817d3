package backendtest

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// FaultOpeners open a backend's store with the faults the fault suite
// injects.
type FaultOpeners struct {
	// Limited opens the store in dir with a small size cap (about 256 KiB)
	// when small is true, and a roomy one (64 MiB or more) when false: a
	// full disk, and the space coming back. Nil for a backend without a
	// size cap (the case is skipped, saying so).
	Limited func(t testing.TB, dir string, small bool) backend.Store
	// Driver opens the bare driver of the store in dir; the suite wraps it
	// to inject write errors and runs the engine over the wrapper.
	Driver func(t testing.TB, dir string) backend.Driver
}

// RunFaults runs the fault suite: a full disk and an injected write error
// each reach the committing walker, write nothing, leave the store
// consistent, and the store works again once the fault is gone; a purge
// stopped by a failed commit or a cancelled context keeps its committed
// chunks and nothing of the failed one.
func RunFaults(t *testing.T, o FaultOpeners) {
	t.Run("FullDisk", func(t *testing.T) {
		if o.Limited == nil {
			t.Skip("this backend has no size cap to fill")
		}
		testFullDisk(t, o.Limited)
	})
	t.Run("DeadlineWhileWaiting", func(t *testing.T) { testDeadlineWhileWaiting(t, o.Driver) })
	t.Run("WriteFailureIsolated", func(t *testing.T) { testWriteFailureIsolated(t, o.Driver) })
	t.Run("PurgeChunkFault", func(t *testing.T) { testPurgeChunkFault(t, o.Driver) })
	t.Run("WriteFault", func(t *testing.T) {
		testWriteFault(t, func(t testing.TB, dir string, fault func() error) backend.Store {
			return Faulty(t, o.Driver(t, dir), fault)
		})
	})
}

// Faulty returns the engine over d wrapped so that every write
// transaction calls fault just before it commits and, if fault returns an
// error, rolls back and fails with it, as a failing disk would.
func Faulty(t testing.TB, d backend.Driver, fault func() error) backend.Store {
	return Hooked(t, d, Hooks{Commit: fault}, nil)
}

// Hooks are called by a driver wrapped with Hooked; nil hooks do nothing.
type Hooks struct {
	// Begin is called before each write transaction begins.
	Begin func()
	// Put is called for each anchor written; an error fails the write
	// as a driver error would (the transaction must be rolled back).
	Put func(a *anchor.Anchor) error
	// Commit is called before each commit; an error rolls the
	// transaction back and fails it.
	Commit func() error
}

// Hooked returns the engine, with opts, over d wrapped to call hooks.
func Hooked(t testing.TB, d backend.Driver, hooks Hooks, opts *backend.Options) backend.Store {
	s, err := backend.New(hookDriver{Driver: d, h: hooks}, "hooked", opts)
	require.NoError(t, err)
	return s
}

type hookDriver struct {
	backend.Driver
	h Hooks
}

func (d hookDriver) Begin(ctx context.Context) (backend.Tx, error) {
	if d.h.Begin != nil {
		d.h.Begin()
	}
	tx, err := d.Driver.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return hookTx{Tx: tx, h: d.h}, nil
}

type hookTx struct {
	backend.Tx
	h Hooks
}

func (t hookTx) PutAnchor(a *anchor.Anchor) error {
	if t.h.Put != nil {
		if err := t.h.Put(a); err != nil {
			return err
		}
	}
	return t.Tx.PutAnchor(a)
}

func (t hookTx) Commit() error {
	if t.h.Commit != nil {
		if err := t.h.Commit(); err != nil {
			t.Tx.Rollback()
			return err
		}
	}
	return t.Tx.Commit()
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

// testDeadlineWhileWaiting pins defect 4 of the write-path issue: a
// caller's deadline meant something else on each backend (bolt without
// group commit ignored it and returned nil late). Now, on every backend and
// in both modes, a write still waiting for the transaction ahead of it is
// withdrawn when its deadline passes, and never lands.
func testDeadlineWhileWaiting(t *testing.T, driver func(testing.TB, string) backend.Driver) {
	for _, alone := range []bool{false, true} {
		dir := t.TempDir()
		root := rootIn(t, driver(t, dir))

		var held atomic.Bool
		entered, release := make(chan struct{}), make(chan struct{})
		s := Hooked(t, driver(t, dir), Hooks{Commit: func() error {
			if held.CompareAndSwap(false, true) {
				close(entered) // the first commit waits until released
				<-release
			}
			return nil
		}}, &backend.Options{NoGroupCommit: alone})
		first := make(chan error, 1)
		go func() {
			first <- addNode(s, root)
		}()
		<-entered
		c, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Late"}
		late := make(chan error, 1)
		go func() { late <- Apply(c, s, &delta.Batch{Root: root, Changes: []delta.Change{{ID: n.ID, Create: n}}}) }()
		var err error
		select {
		case err = <-late:
		case <-time.After(30 * time.Second):
			t.Fatalf("alone=%v: a write whose deadline passed is still waiting behind the held transaction", alone)
		}
		cancel()
		require.ErrorIs(t, err, context.DeadlineExceeded, "alone=%v", alone)
		close(release)
		require.NoError(t, <-first)
		_, err = tiered.New(s, root, nil).Get(ctx, n.ID)
		require.ErrorIs(t, err, anchor.ErrNotFound, "alone=%v: the withdrawn write never lands", alone)
		RequireClean(t, s)
		require.NoError(t, s.Close())
	}
}

func addNode(s backend.Store, root anchor.ID) error {
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, "N", nil)
	if err != nil {
		return err
	}
	if _, err := m.Connect(ctx, root, n, "Has", nil); err != nil {
		return err
	}
	return m.Commit(ctx)
}

// testWriteFailureIsolated: a write that passes its checks but that the
// driver fails to store mid-transaction (here: every anchor of type
// "Poison") fails alone; the other writes of its group are run again
// without it and land.
func testWriteFailureIsolated(t *testing.T, driver func(testing.TB, string) backend.Driver) {
	dir := t.TempDir()
	root := rootIn(t, driver(t, dir))

	boom := errors.New("the driver cannot store this record")
	var begins atomic.Int32
	gate := make(chan struct{})
	s := Hooked(t, driver(t, dir), Hooks{
		Begin: func() {
			if begins.Add(1) == 1 {
				<-gate // hold the first transaction so the others queue into one group
			}
		},
		Put: func(a *anchor.Anchor) error {
			if a.Type == "Poison" {
				return boom
			}
			return nil
		},
	}, nil)
	defer s.Close()
	first := make(chan error, 1)
	go func() { first <- addNode(s, root) }()
	for begins.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	const innocent = 8
	errs := make(chan error, innocent)
	for range innocent {
		go func() { errs <- addNode(s, root) }()
	}
	poison := make(chan error, 1)
	go func() {
		m := tiered.New(s, root, nil)
		if _, err := m.Create(anchor.KindNode, "Poison", nil); err != nil {
			poison <- err
			return
		}
		poison <- m.Commit(ctx)
	}()
	time.Sleep(50 * time.Millisecond) // let them queue behind the held transaction
	close(gate)
	require.NoError(t, <-first)
	require.ErrorIs(t, <-poison, boom)
	for range innocent {
		require.NoError(t, <-errs)
	}
	require.Equal(t, 1+innocent, EdgeCount(t, s, root))
	RequireClean(t, s)
}

// rootIn creates a root node through an engine over d with no hooks, and
// closes it, so a test can then reopen the store with its hooks armed.
func rootIn(t *testing.T, d backend.Driver) anchor.ID {
	plain, err := backend.New(d, "plain", nil)
	require.NoError(t, err)
	root := NewRootNode(t, plain, anchor.Access{})
	require.NoError(t, plain.Close())
	return root
}
