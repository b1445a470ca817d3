package replica_test

import (
	"bytes"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestEngramImportList runs the test list of engram's PR #267 (import of
// memories between stores) against Anchorage's import. Write-once kinds
// are TestWriteOnceArchetypes.
func TestEngramImportList(t *testing.T) {
	t.Run("idempotent re-import: 0 inserted, N skipped", func(t *testing.T) {
		a, b := newStore(t), newStore(t)
		buildGraph(t, a)
		first, err := replica.Import(ctx, b, bytes.NewReader(exportBytes(t, a, nil)), nil)
		require.NoError(t, err)
		again, err := replica.Import(ctx, b, bytes.NewReader(exportBytes(t, a, nil)), nil)
		require.NoError(t, err)
		require.Zero(t, again.Stats.Total().Inserted)
		require.Equal(t, first.Records, again.Stats.Total().Skipped)
	})
	t.Run("newer updates, older skipped", func(t *testing.T) {
		a, b := newStore(t), newStore(t)
		root := backendtest.NewRootNode(t, a, anchor.Access{})
		syncAll(t, a, b)
		set := func(s *tiered.Memory, field string, v any) {
			require.NoError(t, s.Set(ctx, root, field, v))
			require.NoError(t, s.Commit(ctx))
		}
		set(tiered.New(a, root, nil), "older", "a") // a writes first ...
		// ... b later: b's is newer. In the same millisecond both stamps
		// could tie (b's clock has only seen a's earlier write), and the
		// tie would go to the greater replica ID, not to the later write.
		time.Sleep(2 * time.Millisecond)
		set(tiered.New(b, root, nil), "older", "b")
		set(tiered.New(a, root, nil), "newer", "new") // only a has it
		res, err := replica.Sync(ctx, a, b, nil)
		require.NoError(t, err)
		require.Equal(t, 1, res.Import.Stats.ByKind[anchor.KindNode].Updated)
		require.Equal(t, 1, res.Import.Stats.ByKind[anchor.KindNode].Conflicts, "a's older value lost")
		var older, newer string
		require.NoError(t, backendtest.Stored(t, b, root).Field("older", &older))
		require.NoError(t, backendtest.Stored(t, b, root).Field("newer", &newer))
		require.Equal(t, "b", older)
		require.Equal(t, "new", newer)
	})
	t.Run("tombstone preserved on insert", func(t *testing.T) {
		a, b := newStore(t), newStore(t)
		root := backendtest.NewRootNode(t, a, anchor.Access{})
		m := tiered.New(a, root, nil)
		n, err := m.Create(anchor.KindNode, "Gone", map[string]any{"v": 1})
		require.NoError(t, err)
		require.NoError(t, m.Commit(ctx))
		live := exportBytes(t, a, nil)
		require.NoError(t, m.Delete(ctx, n))
		require.NoError(t, m.Commit(ctx))
		res, err := replica.Import(ctx, b, bytes.NewReader(exportBytes(t, a, nil)), nil)
		require.NoError(t, err)
		require.Equal(t, 2, res.Stats.Total().Inserted, "the root and the tombstone")
		require.False(t, backendtest.Stored(t, b, n).Live())
		_, err = replica.Import(ctx, b, bytes.NewReader(live), nil) // the older, live state
		require.NoError(t, err)
		require.False(t, backendtest.Stored(t, b, n).Live(), "an older live state does not revive it")
	})
	t.Run("delete propagates", func(t *testing.T) {
		a, b := newStore(t), newStore(t)
		root := buildGraph(t, a)
		syncAll(t, a, b)
		m := tiered.New(a, root, nil)
		require.NoError(t, m.Delete(ctx, root))
		require.NoError(t, m.Commit(ctx))
		syncAll(t, a, b)
		require.False(t, backendtest.Stored(t, b, root).Live())
		require.Zero(t, backendtest.EdgeCount(t, b, root), "its edges went with it")
		requireSameDumps(t, a, b)
	})
	t.Run("restore via newer write", func(t *testing.T) {
		a, b := newStore(t), newStore(t)
		root := backendtest.NewRootNode(t, a, anchor.Access{})
		m := tiered.New(a, root, nil)
		n, err := m.Create(anchor.KindNode, "Memory", map[string]any{"v": 1})
		require.NoError(t, err)
		e, err := m.Connect(ctx, root, n, "Has", nil)
		require.NoError(t, err)
		require.NoError(t, m.Commit(ctx))
		syncAll(t, a, b)
		mb := tiered.New(b, root, nil)
		require.NoError(t, mb.Delete(ctx, n)) // soft-deleted on b
		require.NoError(t, mb.Commit(ctx))
		syncAll(t, a, b)
		tomb := exportBytes(t, b, nil)
		require.False(t, backendtest.Stored(t, a, n).Live())

		require.NoError(t, tiered.New(a, root, nil).Restore(ctx, n)) // the newer write, on a
		res, err := replica.Sync(ctx, a, b, nil)
		require.NoError(t, err)
		require.Equal(t, 1, res.Import.Stats.ByKind[anchor.KindNode].Updated)
		for _, s := range []backend.Store{a, b} {
			require.True(t, backendtest.Stored(t, s, n).Live(), "the restore wins over the tombstone")
			require.False(t, backendtest.Stored(t, s, e).Live(), "the edge its delete took stays deleted")
			var v int
			require.NoError(t, tiered.New(s, root, nil).Field(ctx, n, "v", &v))
			require.Equal(t, 1, v)
		}
		again, err := replica.Import(ctx, a, bytes.NewReader(tomb), nil) // the older tombstone again
		require.NoError(t, err)
		require.Zero(t, again.Stats.ByKind[anchor.KindNode].Updated)
		require.True(t, backendtest.Stored(t, a, n).Live(), "an older tombstone does not delete the restored record")
		syncAll(t, a, b)
		requireSameDumps(t, a, b)

		mb = tiered.New(b, root, nil) // a delete after the restore wins over it
		require.NoError(t, mb.Delete(ctx, n))
		require.NoError(t, mb.Commit(ctx))
		syncAll(t, a, b)
		require.False(t, backendtest.Stored(t, a, n).Live())
		requireSameDumps(t, a, b)
	})
	t.Run("per-kind counters", func(t *testing.T) {
		a, b := newStore(t), newStore(t)
		buildGraph(t, a)
		res, err := replica.Sync(ctx, a, b, nil)
		require.NoError(t, err)
		total := 0
		for _, k := range []anchor.Kind{anchor.KindNode, anchor.KindEdge, anchor.KindObject} {
			require.Positive(t, res.Import.Stats.ByKind[k].Inserted, "%s", k)
			total += res.Import.Stats.ByKind[k].Inserted
		}
		require.Equal(t, res.Import.Records, total+res.Import.Stats.ByKind[anchor.KindWalker].Inserted)
	})
	t.Run("ID format", func(t *testing.T) {
		a := newStore(t)
		buildGraph(t, a)
		uuid7 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
		h := backendtest.Meta(t, a)
		for _, id := range []anchor.ID{h.StoreID, h.ReplicaID, anchor.NewID()} {
			require.Regexp(t, uuid7, id.String())
			back, err := anchor.ParseID(id.String())
			require.NoError(t, err)
			require.Equal(t, id, back)
		}
	})
}
