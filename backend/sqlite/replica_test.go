package sqlite_test

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestReplication syncs a SQLite store with another SQLite store and with
// a bbolt store. Replication needs the store to keep each field's origin
// replica and the import cursors (delta.MetaTx, backend.MetaView): two
// replicas that write one field with the same HLC must settle on the value
// of the greater replica ID, and a second sync must change nothing.
func TestReplication(t *testing.T) {
	fixed := func() time.Time { return time.UnixMilli(1_700_000_000_000) }
	openSQLite := func(t testing.TB, dir string) backend.Store {
		s, err := sqlite.Open(filepath.Join(dir, "r.sqlite"), &sqlite.Options{Now: fixed})
		require.NoError(t, err)
		return s
	}
	openBolt := func(t testing.TB, dir string) backend.Store {
		s, err := bolt.Open(filepath.Join(dir, "r.db"), &bolt.Options{NoSync: true, Now: fixed})
		require.NoError(t, err)
		return s
	}
	for _, tc := range []struct {
		name string
		a    backendtest.Opener
	}{{"sqlite-sqlite", openSQLite}, {"bolt-sqlite", openBolt}} {
		t.Run(tc.name, func(t *testing.T) {
			a := backendtest.New(t, tc.a).Open()
			b := backendtest.New(t, openSQLite).Open()
			root := backendtest.NewRootNode(t, a, anchor.Access{All: anchor.Read})
			ma := tiered.New(a, root, nil)
			n, err := ma.Create(anchor.KindNode, "Profile", map[string]any{"name": "ada"})
			require.NoError(t, err)
			_, err = ma.Connect(ctx, root, n, "HasProfile", map[string]any{"since": 2024})
			require.NoError(t, err)
			require.NoError(t, ma.Grant(ctx, n, anchor.NewID(), anchor.Write))
			require.NoError(t, ma.Commit(ctx))
			_, err = replica.Sync(ctx, a, b, nil)
			require.NoError(t, err)
			require.Equal(t, backendtest.Meta(t, a).HLC, backendtest.Meta(t, b).HLC, "the import advanced b's clock")
			require.Equal(t, backendtest.Meta(t, a).ReplicaID, backendtest.Stored(t, b, n).Fields["name"].Origin,
				"an imported field keeps the replica that wrote it")
			require.Zero(t, backendtest.Stored(t, a, n).Fields["name"].Origin, "a local write has no origin")

			// Same field, same stamp, on both sides.
			for _, s := range []backend.Store{a, b} {
				m := tiered.New(s, root, nil)
				require.NoError(t, m.Set(ctx, root, "x", backendtest.Meta(t, s).ReplicaID.String()))
				require.NoError(t, m.Commit(ctx))
			}
			require.Equal(t, backendtest.Stored(t, a, root).Fields["x"].Stamp, backendtest.Stored(t, b, root).Fields["x"].Stamp, "the test needs a tie")
			for range 2 {
				_, err = replica.Sync(ctx, a, b, nil)
				require.NoError(t, err)
				_, err = replica.Sync(ctx, b, a, nil)
				require.NoError(t, err)
			}
			ra, rb := backendtest.Meta(t, a).ReplicaID, backendtest.Meta(t, b).ReplicaID
			want := ra
			if bytes.Compare(rb[:], ra[:]) > 0 {
				want = rb
			}
			for _, s := range []backend.Store{a, b} {
				var x string
				require.NoError(t, backendtest.Stored(t, s, root).Field("x", &x))
				require.Equal(t, want.String(), x)
			}
			// Both hold the same graph: every anchor alike, field by field.
			require.NoError(t, a.View(ctx, func(va backend.View) error {
				return va.Anchors(func(id anchor.ID, x *anchor.Anchor, err error) error {
					require.NoError(t, err)
					y := backendtest.Stored(t, b, id)
					require.Equal(t, x.Kind, y.Kind)
					require.Equal(t, x.Type, y.Type)
					require.Equal(t, x.Owner, y.Owner)
					require.True(t, x.Access.Equal(y.Access))
					require.Equal(t, x.Source, y.Source)
					require.Equal(t, x.Target, y.Target)
					require.Equal(t, x.Deleted != 0, y.Deleted != 0)
					require.Equal(t, x.FieldNames(), y.FieldNames())
					for name, f := range x.Fields {
						require.Equal(t, f.Value, y.Fields[name].Value, name)
						require.Equal(t, f.Stamp, y.Fields[name].Stamp, name)
					}
					return nil
				})
			}))
			require.Equal(t, backendtest.EdgeCount(t, a, root), backendtest.EdgeCount(t, b, root))
			seq := backendtest.Meta(t, b).Seq
			r, err := replica.Sync(ctx, a, b, nil)
			require.NoError(t, err)
			require.Zero(t, r.Import.Records, "the cursor in b's kv table says all is imported")
			require.Equal(t, seq, backendtest.Meta(t, b).Seq)
		})
	}
}
