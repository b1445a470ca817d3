package bolt

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
)

// TestRightEdgeFold: a write transaction that writes more new anchors than
// it notes (maxNoted) folds its notes into the trees' bounds and still
// reads back every anchor it wrote, and finds none it did not, whatever
// order the IDs came in (IDs made within a millisecond are in random
// order). The notes stay bounded.
func TestRightEdgeFold(t *testing.T) {
	ctx := context.Background()
	s, err := Open(filepath.Join(t.TempDir(), "fold.db"), &Options{NoSync: true})
	require.NoError(t, err)
	defer s.Close()
	tx, err := s.Driver().Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback()
	w := tx.(*wtx)

	ids := make([]anchor.ID, 2*maxNoted) // two thirds of them written: past maxNoted
	for i := range ids {
		ids[i] = anchor.NewID()
	}
	_, err = w.Anchor(ids[0]) // finds the bounds
	require.ErrorIs(t, err, anchor.ErrNotFound)
	written := map[anchor.ID]bool{}
	for i, id := range ids {
		if i%3 == 2 {
			continue // never written
		}
		require.NoError(t, w.PutAnchor(&anchor.Anchor{ID: id, Kind: anchor.KindNode, Owner: id, Type: "N"}))
		require.NoError(t, w.Logged(id))
		written[id] = true
		require.LessOrEqual(t, len(w.wrote), maxNoted)
	}
	for _, id := range append(ids, anchor.NewID()) {
		a, err := w.Anchor(id)
		if written[id] {
			require.NoError(t, err)
			require.Equal(t, id, a.ID)
		} else {
			require.ErrorIs(t, err, anchor.ErrNotFound)
		}
	}
}
