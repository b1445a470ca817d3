package sqlite_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestCorruptRow: a damaged row is reported as an *anchor.Error naming the
// anchor and wrapping anchor.ErrCorrupt, wherever it is read: View.Anchor,
// View.Anchors (which passes it on and goes on scanning), Verify, and an
// Apply that touches it (which then writes nothing). Other anchors stay
// readable and writable.
func TestCorruptRow(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{"kind", "UPDATE anchors SET kind = 99 WHERE id = X'%x'"},
		{"owner", "UPDATE anchors SET owner = X'0102' WHERE id = X'%x'"},
		{"access", "UPDATE anchors SET access = X'09' WHERE id = X'%x'"},
		{"stamp", "UPDATE anchors SET updated = 'yesterday' WHERE id = X'%x'"},
		{"field", "UPDATE fields SET stamp = 'soon' WHERE id = X'%x'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.sqlite")
			s, err := sqlite.Open(path, nil)
			require.NoError(t, err)
			root := backendtest.NewRootNode(t, s, anchor.Access{})
			m := tiered.New(s, root, nil)
			bad, err := m.Create(anchor.KindNode, "Victim", map[string]any{"v": 1})
			require.NoError(t, err)
			good, err := m.Create(anchor.KindNode, "Fine", map[string]any{"v": 2})
			require.NoError(t, err)
			require.NoError(t, m.Commit(ctx))
			require.NoError(t, s.Close())

			rawExec(t, path, fmt.Sprintf(tc.sql, bad[:]))
			s, err = sqlite.Open(path, nil)
			require.NoError(t, err)
			defer s.Close()

			requireCorrupt := func(err error) {
				t.Helper()
				require.ErrorIs(t, err, anchor.ErrCorrupt)
				var ae *anchor.Error
				require.True(t, errors.As(err, &ae), "want *anchor.Error, got %T: %v", err, err)
				require.Equal(t, bad, ae.ID)
			}
			requireCorrupt(s.View(ctx, func(v backend.View) error { _, err := v.Anchor(bad); return err }))
			var seen []anchor.ID
			require.NoError(t, s.View(ctx, func(v backend.View) error {
				return v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
					seen = append(seen, id)
					if id == bad {
						require.Nil(t, a)
						requireCorrupt(err)
					} else {
						require.NoError(t, err)
					}
					return nil
				})
			}))
			require.Len(t, seen, 3, "the scan goes on past the damaged row")
			r, err := backend.Verify(ctx, s)
			require.NoError(t, err)
			require.Len(t, r.Problems, 1)
			require.Equal(t, backend.ProblemCorrupt, r.Problems[0].Kind)
			require.Equal(t, bad, r.Problems[0].ID)

			// A batch touching the damaged anchor fails whole.
			n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "N"}
			err = backendtest.Apply(ctx, s, &delta.Batch{Root: root, Changes: []delta.Change{
				{ID: n.ID, Create: n}, {ID: bad, Set: map[string][]byte{"v": {0x03}}}}})
			requireCorrupt(err)
			requireAbsent(t, s, n.ID)
			// Others are unaffected.
			w := tiered.New(s, root, nil)
			require.NoError(t, w.Set(ctx, good, "v", 3))
			require.NoError(t, w.Commit(ctx))
		})
	}
}
