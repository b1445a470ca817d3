package racetests

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestSetBackToLoadedValueIsWritten pins an engine bug this suite found
// (the rapid model test finds it too; fixed in 0f39752, Memory now tracks
// the fields a walker Set): tiered.Memory decided what to write with
// delta.Diff(snapshot, current), which compared values, so a Set whose
// value equalled the walker's *loaded* value was not a write at all. When
// another walker changed that field in between (a user toggles a setting
// back to what their page showed while another tab changed it), the later
// commit did not win, and Commit still returned nil:
//
//   - default mode: the field keeps the other walker's value;
//   - optimistic mode: no ErrConflict either; the walker is told its write
//     landed;
//   - if the anchor was deleted meanwhile: Commit returns nil instead of
//     ErrDeleted.
//
// This is the lost-update family the engine exists to prevent (whole-object
// writes clobbering scalar fields, fixed in the original runtime by
// per-field dirty tracking).
func TestSetBackToLoadedValueIsWritten(t *testing.T) {
	for _, b := range engineBackends() {
		t.Run(b.name, func(t *testing.T) {
			g := openEngine(t, b)
			root := g.newRoot(t)
			setup := tiered.New(g.store, root, nil)
			node, err := setup.Create(anchor.KindNode, "Settings", map[string]any{"theme": "light"})
			require.NoError(t, err)
			require.NoError(t, setup.Commit(ctx))

			t.Run("LastCommitWins", func(t *testing.T) {
				page := tiered.New(g.store, root, nil)
				_, err := page.Get(ctx, node) // the page shows "light"
				require.NoError(t, err)
				other := tiered.New(g.store, root, nil)
				require.NoError(t, other.Set(ctx, node, "theme", "dark"))
				require.NoError(t, other.Commit(ctx))

				require.NoError(t, page.Set(ctx, node, "theme", "light")) // the user picks light, later
				require.NoError(t, page.Commit(ctx))
				theme, _ := g.storedField(t, node, "theme")
				require.Equal(t, "light", theme, "the later commit set theme=light and was told it landed")
			})

			t.Run("OptimisticConflict", func(t *testing.T) {
				page := tiered.New(g.store, root, &tiered.Options{Optimistic: true})
				before, _ := g.storedField(t, node, "theme")
				_, err := page.Get(ctx, node)
				require.NoError(t, err)
				other := tiered.New(g.store, root, nil)
				require.NoError(t, other.Set(ctx, node, "theme", before+"-changed"))
				require.NoError(t, other.Commit(ctx))

				require.NoError(t, page.Set(ctx, node, "theme", before))
				err = page.Commit(ctx)
				require.ErrorIs(t, err, anchor.ErrConflict,
					"someone changed the field after this optimistic walker loaded it; Commit must not report success for a write that did not land")
			})

			t.Run("DeletedMeanwhile", func(t *testing.T) {
				page := tiered.New(g.store, root, nil)
				_, err := page.Get(ctx, node)
				require.NoError(t, err)
				other := tiered.New(g.store, root, nil)
				require.NoError(t, other.Delete(ctx, node))
				require.NoError(t, other.Commit(ctx))

				cur, err := page.Get(ctx, node)
				require.NoError(t, err)
				var theme string
				require.NoError(t, cur.Field("theme", &theme))
				require.NoError(t, page.Set(ctx, node, "theme", theme))
				require.ErrorIs(t, page.Commit(ctx), anchor.ErrDeleted,
					"the walker set a field of an anchor deleted meanwhile; its write did not land")
			})
		})
	}
}

// TestSQLiteWriterSurvivesCallersGivingUp pins an engine bug this suite
// found in backend/sqlite (Store.attempt, store.go): BEGIN IMMEDIATE runs
// under a context that ends when the callers give up, and when it ends
// while BEGIN is executing, the driver reports the context's error although
// SQLite has opened the transaction. attempt returns that error without a
// ROLLBACK, so the writer connection stays inside a transaction, and every
// later BEGIN fails with "SQL logic error: cannot start a transaction
// within a transaction (1)": from then on every Apply of the store returns
// that raw error (the store cannot write until it is reopened), which also
// breaks "database errors never reach a caller". Group commit (the default)
// no longer runs BEGIN under the callers' contexts since d9358ef; the
// NoGroupCommit path still does.
//
// Walkers commit under contexts that expire after a random 0-500 µs; then a
// commit with no deadline must succeed, and every failure must have been
// the context's error or anchor.ErrBusy.
func TestSQLiteWriterSurvivesCallersGivingUp(t *testing.T) {
	for _, c := range []struct {
		name string
		opts sqlite.Options
	}{
		{"group-commit", sqlite.Options{Synchronous: sqlite.SyncNormal}},
		{"no-group-commit", sqlite.Options{Synchronous: sqlite.SyncNormal, NoGroupCommit: true}},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := openEngine(t, backendCase{name: "sqlite-" + c.name, open: sqliteOpener(c.opts)})
			root := g.newRoot(t)
			var gr group
			var raw atomic.Int64
			var first atomic.Value
			for i := range 8 {
				gr.Go(fmt.Sprintf("w%d", i), func() error {
					r := rand.New(rand.NewPCG(uint64(i), 7))
					for j := range 150 {
						m := tiered.New(g.store, root, nil)
						if err := m.Set(ctx, root, fmt.Sprintf("w%d", i), j); err != nil {
							return err
						}
						cctx, cancel := context.WithTimeout(ctx, time.Duration(r.IntN(500))*time.Microsecond)
						err := m.Commit(cctx)
						cancel()
						logged(g.log(), fmt.Sprintf("w%d", i), err, "commit w%d=%d", i, j)
						if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, anchor.ErrBusy) {
							raw.Add(1)
							first.CompareAndSwap(nil, err.Error())
						}
					}
					return nil
				})
			}
			require.NoError(t, gr.Wait())
			m := tiered.New(g.store, root, nil)
			require.NoError(t, m.Set(ctx, root, "after", "still writable"))
			require.NoError(t, m.Commit(ctx), "a commit with no deadline, after %d commits failed with a raw database error (first: %v)", raw.Load(), first.Load())
			require.Zero(t, raw.Load(), "commits failed with errors that are neither the context's nor anchor.ErrBusy (first: %v)", first.Load())
		})
	}
}
