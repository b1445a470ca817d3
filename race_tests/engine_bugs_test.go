package racetests

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestSetBackToLoadedValueIsWritten pins an engine bug this suite found
// (the rapid model test finds it too): tiered.Memory decides what to write
// with delta.Diff(snapshot, current), which compares values, so a Set whose
// value equals the walker's *loaded* value is not a write at all. When
// another walker changed that field in between (a user toggles a setting
// back to what their page showed while another tab changed it), the later
// commit does not win, and Commit still returns nil:
//
//   - default mode: the field keeps the other walker's value;
//   - optimistic mode: no ErrConflict either; the walker is told its write
//     landed;
//   - if the anchor was deleted meanwhile: Commit returns nil instead of
//     ErrDeleted.
//
// This is the lost-update family the engine exists to prevent (whole-object
// writes clobbering scalar fields, fixed in the original runtime by
// per-field dirty tracking): it needs tiered.Memory to track which fields a
// walker Set (dirty flags) rather than infer them by comparing values.
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
