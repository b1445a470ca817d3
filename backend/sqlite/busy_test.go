package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// lockDB takes the database's write lock from a second, raw connection
// (as another process would) and returns the function that releases it.
func lockDB(t *testing.T, path string) (release func()) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	conn, err := db.Conn(ctx)
	require.NoError(t, err)
	_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
	require.NoError(t, err)
	var once sync.Once
	release = func() {
		once.Do(func() {
			_, err := conn.ExecContext(ctx, "ROLLBACK")
			require.NoError(t, err)
			require.NoError(t, conn.Close())
			require.NoError(t, db.Close())
		})
	}
	t.Cleanup(release)
	return release
}

func nodeBatch(owner anchor.ID) (*delta.Batch, anchor.ID) {
	a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "N"}
	return &delta.Batch{Root: owner, Changes: []delta.Change{{ID: a.ID, Create: a}}}, a.ID
}

func requireAbsent(t *testing.T, s backend.Store, id anchor.ID) {
	t.Helper()
	err := s.View(ctx, func(v backend.View) error { _, err := v.Anchor(id); return err })
	require.ErrorIs(t, err, anchor.ErrNotFound, "a batch answered with an error must not have landed")
}

func bothModes(t *testing.T, fn func(t *testing.T, opts *sqlite.Options)) {
	t.Run("group", func(t *testing.T) { fn(t, &sqlite.Options{}) })
	t.Run("nogroup", func(t *testing.T) { fn(t, &sqlite.Options{NoGroupCommit: true}) })
}

// TestBusyExpiredContext: while another connection holds the write lock, an
// Apply whose context deadline passes gets a *BusyError wrapping
// anchor.ErrBusy and the deadline, naming the file and the wait, and its
// batch never lands. Readers are not blocked meanwhile.
func TestBusyExpiredContext(t *testing.T) {
	bothModes(t, func(t *testing.T, opts *sqlite.Options) {
		s := newStore(t, opts)
		root := backendtest.NewRootNode(t, s, anchor.Access{})
		release := lockDB(t, s.Path())

		b, id := nodeBatch(root)
		const deadline = 300 * time.Millisecond
		start := time.Now()
		c, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		err := backendtest.Apply(c, s, b)
		took := time.Since(start)
		t.Log(err)
		require.ErrorIs(t, err, anchor.ErrBusy)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		var be *sqlite.BusyError
		require.True(t, errors.As(err, &be), "want *sqlite.BusyError, got %T", err)
		require.Equal(t, s.Path(), be.Path)
		require.GreaterOrEqual(t, took, deadline)
		require.LessOrEqual(t, be.Waited, took)
		require.InDelta(t, took, be.Waited, float64(100*time.Millisecond), "Waited is how long Apply ran")
		require.Less(t, took, deadline+2*time.Second, "Apply must give up soon after the deadline")

		// Readers never wait for the writer.
		require.NotNil(t, backendtest.Stored(t, s, root))
		requireAbsent(t, s, id)

		release()
		b2, id2 := nodeBatch(root)
		res, err := s.Apply(ctx, b2)
		require.NoError(t, err)
		require.NotZero(t, res.Stamp)
		require.NotNil(t, backendtest.Stored(t, s, id2))
		requireAbsent(t, s, id)
	})
}

// TestBusyWithoutDeadlineWaits: a caller without a deadline never sees the
// lock; it waits until the other connection lets go, then commits.
func TestBusyWithoutDeadlineWaits(t *testing.T) {
	bothModes(t, func(t *testing.T, opts *sqlite.Options) {
		s := newStore(t, opts)
		root := backendtest.NewRootNode(t, s, anchor.Access{})
		release := lockDB(t, s.Path())
		const hold = 700 * time.Millisecond // several busy_timeouts: the retries run
		b, id := nodeBatch(root)
		// start before arming the release: a test goroutine descheduled
		// between the two (a loaded CI machine) must not shorten the
		// measured wait below the hold.
		start := time.Now()
		time.AfterFunc(hold, release)
		require.NoError(t, backendtest.Apply(ctx, s, b))
		require.GreaterOrEqual(t, time.Since(start), hold-50*time.Millisecond)
		require.NotNil(t, backendtest.Stored(t, s, id))
	})
}

// TestBusyMixedDeadlines pins "errors tell the truth" under contention:
// callers with short deadlines and callers without any queue up behind a
// held lock. Each caller with a deadline gets ErrBusy when its own deadline
// passes (it is not held up by the callers that wait on), each caller
// without one commits once the lock is released, and afterwards exactly
// the batches answered nil are stored.
func TestBusyMixedDeadlines(t *testing.T) {
	bothModes(t, func(t *testing.T, opts *sqlite.Options) {
		s := newStore(t, opts)
		root := backendtest.NewRootNode(t, s, anchor.Access{All: anchor.Connect})
		release := lockDB(t, s.Path())
		const n = 24
		errs := make([]error, n)
		ids := make([]anchor.ID, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				c := ctx
				if i%2 == 0 {
					var cancel context.CancelFunc
					c, cancel = context.WithTimeout(ctx, time.Duration(50+10*i)*time.Millisecond)
					defer cancel()
				}
				var b *delta.Batch
				b, ids[i] = nodeBatch(root)
				errs[i] = backendtest.Apply(c, s, b)
			})
		}
		time.Sleep(500 * time.Millisecond)
		release()
		wg.Wait()
		busy := 0
		for i := range n {
			if errs[i] != nil {
				require.ErrorIs(t, errs[i], anchor.ErrBusy, "caller %d", i)
				require.Zero(t, i%2, "caller %d had no deadline but got %v", i, errs[i])
				requireAbsent(t, s, ids[i])
				busy++
				continue
			}
			require.NotNil(t, backendtest.Stored(t, s, ids[i]))
		}
		require.Equal(t, n/2, busy, "every deadline was shorter than the lock: each of those callers gives up, none waits for the others")
	})
}

// TestStampsAcrossStores: two Stores on one file (as two processes would
// have), the second with a clock an hour slow. Stamps must still grow with
// commit order, and sequence numbers must never repeat, because both come
// from the database inside the write transaction, not from process memory.
func TestStampsAcrossStores(t *testing.T) {
	a := newStore(t, nil)
	slow := func() time.Time { return time.Now().Add(-time.Hour) }
	b, err := sqlite.Open(a.Path(), &sqlite.Options{Now: slow})
	require.NoError(t, err)
	defer b.Close()
	root := backendtest.NewRootNode(t, a, anchor.Access{All: anchor.Connect})
	var last anchor.HLC
	lastSeq := backendtest.Meta(t, b).Seq
	for i := range 20 {
		s := []*sqlite.Store{a, b}[i%2]
		m := tiered.New(s, anchor.NewID(), nil)
		n, err := m.Create(anchor.KindNode, "N", nil)
		require.NoError(t, err)
		_, err = m.Connect(ctx, root, n, "E", nil)
		require.NoError(t, err)
		require.NoError(t, m.Commit(ctx))
		stamp := backendtest.Stored(t, s, n).Created
		require.Greater(t, stamp, last, "commit %d stamped before the commit it follows", i)
		last = stamp
		meta := backendtest.Meta(t, s)
		require.Equal(t, lastSeq+2, meta.Seq, "each commit logs a node and an edge")
		lastSeq = meta.Seq
		require.GreaterOrEqual(t, meta.HLC, stamp)
	}
	require.Equal(t, 20, backendtest.EdgeCount(t, b, root))
	backendtest.RequireClean(t, b)
}

// TestWriterSurvivesCallersGivingUp pins a bug found by race_tests
// (TestSQLiteWriterSurvivesCallersGivingUp): when a caller's context ended
// while BEGIN IMMEDIATE was running, the driver reported the context's
// error although SQLite had opened the transaction, and the writer
// connection stayed inside it: every later Apply failed with "cannot start
// a transaction within a transaction". Callers here give up after a few
// microseconds; each answer must be nil, the context's error or ErrBusy,
// and the store must still commit afterwards.
func TestWriterSurvivesCallersGivingUp(t *testing.T) {
	bothModes(t, func(t *testing.T, opts *sqlite.Options) {
		s := newStore(t, opts)
		root := backendtest.NewRootNode(t, s, anchor.Access{All: anchor.Connect})
		var wg sync.WaitGroup
		errs := make(chan error, 8*100)
		for i := range 8 {
			wg.Go(func() {
				for j := range 100 {
					b, _ := nodeBatch(root)
					c, cancel := context.WithTimeout(ctx, time.Duration((i*100+j)%300)*time.Microsecond)
					err := backendtest.Apply(c, s, b)
					cancel()
					if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, anchor.ErrBusy) {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("raw error reached a caller: %v", err)
		}
		b, id := nodeBatch(root)
		require.NoError(t, backendtest.Apply(ctx, s, b))
		require.NotNil(t, backendtest.Stored(t, s, id))
	})
}
