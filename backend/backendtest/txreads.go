package backendtest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// RunTxReads checks that a driver's write transaction reads back what it
// wrote before it commits, and finds no anchor it holds nowhere, for IDs
// older and newer than the newest it holds. It pins bolt's shortcut for
// new IDs (a write transaction answers "not found" for an ID above every
// key of its anchors tree and log index without searching them): a
// shortcut that did not follow the transaction's own writes would lose
// the anchor a batch creates and then reads.
func RunTxReads(t *testing.T, driver func(testing.TB, string) backend.Driver) {
	dir := t.TempDir()
	rootIn(t, driver(t, dir))
	d := driver(t, dir)
	defer d.Close()

	older := anchor.NewID() // created before the IDs below, written by nobody
	tx, err := d.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback()
	ids := make([]anchor.ID, 8) // mostly within one millisecond: in random order
	for i := range ids {
		ids[i] = anchor.NewID()
	}
	for _, id := range append([]anchor.ID{older}, ids...) {
		_, err := tx.Anchor(id)
		require.ErrorIs(t, err, anchor.ErrNotFound, "before any write of this transaction")
	}
	written := ids[:4]
	for _, id := range written {
		require.NoError(t, tx.PutAnchor(&anchor.Anchor{ID: id, Kind: anchor.KindNode, Owner: id, Type: "N"}))
		a, err := tx.Anchor(id)
		require.NoError(t, err, "the transaction's own record, not logged yet")
		require.Equal(t, id, a.ID)
		require.NoError(t, tx.Logged(id))
		a, err = tx.Anchor(id)
		require.NoError(t, err, "the transaction's own record, logged")
		require.Equal(t, id, a.ID)
	}
	for _, id := range append([]anchor.ID{older, anchor.NewID()}, ids[4:]...) {
		_, err := tx.Anchor(id)
		require.ErrorIs(t, err, anchor.ErrNotFound, "after the transaction's writes")
	}
	second := written[1]
	// Moving a change-log entry twice in one transaction leaves one entry:
	// the second move finds the first's.
	require.NoError(t, tx.Logged(second))
	require.NoError(t, tx.Commit())

	var logged int
	require.NoError(t, d.View(ctx, func(s backend.Snapshot) error {
		for _, id := range written {
			if _, err := s.Anchor(id); err != nil {
				return err
			}
		}
		return s.Changes(0, func(_ uint64, id anchor.ID) error {
			if id == second {
				logged++
			}
			return nil
		})
	}))
	require.Equal(t, 1, logged, "change-log entries of an anchor logged twice")
}
