package replica_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(pgtest.StopAfter(m)) }

var ctx = context.Background()

func openWith(now func() time.Time) backendtest.Opener {
	return func(t testing.TB, dir string) backend.Store {
		s, err := bolt.Open(filepath.Join(dir, "r.db"), &bolt.Options{NoSync: true, Now: now})
		require.NoError(t, err)
		return s
	}
}

func newStore(t *testing.T) backend.Store { return backendtest.New(t, openWith(nil)).Open() }

// snapshot is a store's graph with the parts replicas must agree on.
type snapshot struct {
	Anchors map[anchor.ID]string
	Adj     []string
}

func dump(t *testing.T, s backend.Store) snapshot {
	t.Helper()
	snap := snapshot{Anchors: map[anchor.ID]string{}}
	require.NoError(t, s.View(ctx, func(v backend.View) error {
		if err := v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
			require.NoError(t, err)
			var b bytes.Buffer
			b.WriteString(a.Kind.String() + " " + a.Type + " " + a.Owner.String())
			b.WriteString(" live=" + map[bool]string{true: "y", false: "n"}[a.Live()])
			for _, name := range a.FieldNames() {
				b.WriteString(" " + name + "=" + hex.EncodeToString(a.Fields[name].Value))
			}
			b.WriteString(" all=" + a.Access.All.String())
			snap.Anchors[id] = b.String()
			return nil
		}); err != nil {
			return err
		}
		return v.Adjacency(func(r anchor.Adj) error {
			snap.Adj = append(snap.Adj, r.Node.String()+r.Edge.String()+r.Peer.String()+r.Dir.String()+r.Type)
			return nil
		})
	}))
	sort.Strings(snap.Adj)
	return snap
}

// buildGraph writes a small graph with every kind of change: nodes, edges,
// field updates, an access change, a disconnect and a node delete.
func buildGraph(t *testing.T, s backend.Store) anchor.ID {
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	var nodes []anchor.ID
	for i := range 30 {
		n, err := m.Create(anchor.KindNode, "Item", map[string]any{"i": i})
		require.NoError(t, err)
		_, err = m.Connect(ctx, root, n, "Has", map[string]any{"w": i})
		require.NoError(t, err)
		nodes = append(nodes, n)
	}
	_, err := m.Create(anchor.KindObject, "Blob", map[string]any{"b": []byte("x")})
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	require.NoError(t, m.Set(ctx, nodes[1], "i", 100))
	require.NoError(t, m.Grant(ctx, nodes[2], anchor.NewID(), anchor.Read))
	require.NoError(t, m.Delete(ctx, nodes[3]))
	rows, err := m.Edges(ctx, nodes[4])
	require.NoError(t, err)
	require.NoError(t, m.Disconnect(ctx, rows[0].Edge))
	_, err = m.Connect(ctx, nodes[5], nodes[6], "Peer", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	return root
}

func exportBytes(t *testing.T, s backend.Store, opts *replica.ExportOptions) []byte {
	var buf bytes.Buffer
	_, err := replica.Export(ctx, s, &buf, opts)
	require.NoError(t, err)
	return buf.Bytes()
}

func TestExportImportRoundTrip(t *testing.T) {
	a, b := newStore(t), newStore(t)
	buildGraph(t, a)
	file := exportBytes(t, a, &replica.ExportOptions{ChunkRecords: 7})
	res, err := replica.Import(ctx, b, bytes.NewReader(file), nil)
	require.NoError(t, err)
	require.Equal(t, dump(t, a), dump(t, b))
	total := res.Stats.Total()
	require.Equal(t, res.Records, total.Inserted)
	require.Zero(t, total.Refused)
	require.Positive(t, res.Stats.ByKind[anchor.KindEdge].Inserted)
	require.Positive(t, res.Stats.ByKind[anchor.KindObject].Inserted)

	// Re-importing the same export changes nothing and logs nothing.
	seq := backendtest.Meta(t, b).Seq
	res, err = replica.Import(ctx, b, bytes.NewReader(file), nil)
	require.NoError(t, err)
	require.Equal(t, 0, res.Chunks)
	require.Positive(t, res.Skipped)
	require.Equal(t, seq, backendtest.Meta(t, b).Seq)

	// A fresh export of the same data (new export ID) merges to all-skipped.
	again := exportBytes(t, a, nil)
	res, err = replica.Import(ctx, b, bytes.NewReader(again), nil)
	require.NoError(t, err)
	require.Equal(t, res.Records, res.Stats.Total().Skipped)
	require.Equal(t, seq, backendtest.Meta(t, b).Seq, "idempotent re-import logs nothing")
}

func TestSyncConverges(t *testing.T) {
	a, b := newStore(t), newStore(t)
	root := buildGraph(t, a)
	_, err := replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)

	// Concurrent edits on both sides, some to the same field.
	ma, mb := tiered.New(a, root, nil), tiered.New(b, root, nil)
	require.NoError(t, ma.Set(ctx, root, "a_only", 1))
	require.NoError(t, ma.Set(ctx, root, "both", "from a"))
	require.NoError(t, ma.Commit(ctx))
	// b sees a's write before writing the same field: the HLC orders b's
	// write after it (wall clocks alone could not), so b's value wins.
	_, err = replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)
	require.NoError(t, mb.Set(ctx, root, "b_only", 2))
	require.NoError(t, mb.Set(ctx, root, "both", "from b"))
	nb, err := mb.Create(anchor.KindNode, "FromB", nil)
	require.NoError(t, err)
	_, err = mb.Connect(ctx, root, nb, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, mb.Commit(ctx))

	for range 2 { // twice: the second round must change nothing
		_, err = replica.Sync(ctx, a, b, nil)
		require.NoError(t, err)
		_, err = replica.Sync(ctx, b, a, nil)
		require.NoError(t, err)
	}
	require.Equal(t, dump(t, a), dump(t, b))
	var both string
	require.NoError(t, backendtest.Stored(t, a, root).Field("both", &both))
	require.Equal(t, "from b", both)

	seqA, seqB := backendtest.Meta(t, a).Seq, backendtest.Meta(t, b).Seq
	r1, err := replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)
	require.Zero(t, r1.Import.Records, "nothing new since the cursor")
	require.Equal(t, seqA, backendtest.Meta(t, a).Seq)
	require.Equal(t, seqB, backendtest.Meta(t, b).Seq, "no ping-pong: a synced store does not re-log")
}

// TestTieBreakByReplica: two replicas whose clocks agree to the
// millisecond write the same field with equal HLC stamps; both must settle
// on the same value, the one from the greater replica ID.
func TestTieBreakByReplica(t *testing.T) {
	fixed := func() time.Time { return time.UnixMilli(1_700_000_000_000) }
	a := backendtest.New(t, openWith(fixed)).Open()
	b := backendtest.New(t, openWith(fixed)).Open()
	root := backendtest.NewRootNode(t, a, anchor.Access{})
	_, err := replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)
	// Bring both clocks to the same point, then write once on each side.
	ha, hb := backendtest.Meta(t, a).HLC, backendtest.Meta(t, b).HLC
	require.Equal(t, ha, hb)
	for _, s := range []backend.Store{a, b} {
		m := tiered.New(s, root, nil)
		require.NoError(t, m.Set(ctx, root, "x", backendtest.Meta(t, s).ReplicaID.String()))
		require.NoError(t, m.Commit(ctx))
	}
	require.Equal(t, backendtest.Stored(t, a, root).Fields["x"].Stamp, backendtest.Stored(t, b, root).Fields["x"].Stamp, "the test needs a real tie")
	_, err = replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)
	_, err = replica.Sync(ctx, b, a, nil)
	require.NoError(t, err)
	var xa, xb string
	require.NoError(t, backendtest.Stored(t, a, root).Field("x", &xa))
	require.NoError(t, backendtest.Stored(t, b, root).Field("x", &xb))
	require.Equal(t, xa, xb)
	ra, rb := backendtest.Meta(t, a).ReplicaID, backendtest.Meta(t, b).ReplicaID
	want := ra
	if bytes.Compare(rb[:], ra[:]) > 0 {
		want = rb
	}
	require.Equal(t, want.String(), xa)
}

func TestTombstonesWin(t *testing.T) {
	a, b := newStore(t), newStore(t)
	root := backendtest.NewRootNode(t, a, anchor.Access{})
	m := tiered.New(a, root, nil)
	n, err := m.Create(anchor.KindNode, "N", map[string]any{"v": 1})
	require.NoError(t, err)
	_, err = m.Connect(ctx, root, n, "Has", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	_, err = replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)

	require.NoError(t, m.Delete(ctx, n)) // a deletes the node ...
	require.NoError(t, m.Commit(ctx))
	mb := tiered.New(b, root, nil)
	other, err := mb.Create(anchor.KindNode, "Other", nil)
	require.NoError(t, err)
	late, err := mb.Connect(ctx, other, n, "Late", nil) // ... while b connects to it
	require.NoError(t, err)
	require.NoError(t, mb.Set(ctx, n, "v", 2))
	require.NoError(t, mb.Commit(ctx))

	_, err = replica.Sync(ctx, a, b, nil)
	require.NoError(t, err)
	_, err = replica.Sync(ctx, b, a, nil)
	require.NoError(t, err)
	require.Equal(t, dump(t, a), dump(t, b))
	for _, s := range []backend.Store{a, b} {
		require.False(t, backendtest.Stored(t, s, n).Live())
		require.False(t, backendtest.Stored(t, s, late).Live(), "the deleted node takes the late edge with it")
		require.Zero(t, backendtest.EdgeCount(t, s, n))
	}
}

// TestInterruptedImportResumes: a file cut off mid-way applies its intact
// chunks and fails with ErrCorrupt; importing the whole file afterwards
// resumes after them, and the result equals a clean import.
func TestInterruptedImportResumes(t *testing.T) {
	a, b, c := newStore(t), newStore(t), newStore(t)
	buildGraph(t, a)
	file := exportBytes(t, a, &replica.ExportOptions{ChunkRecords: 5})
	res, err := replica.Import(ctx, b, bytes.NewReader(file[:len(file)*2/3]), nil)
	require.ErrorIs(t, err, anchor.ErrCorrupt)
	require.Positive(t, res.Chunks, "the intact chunks were applied")
	applied := res.Chunks

	res, err = replica.Import(ctx, b, bytes.NewReader(file), nil)
	require.NoError(t, err)
	require.Equal(t, applied, res.Skipped)
	_, err = replica.Import(ctx, c, bytes.NewReader(file), nil)
	require.NoError(t, err)
	require.Equal(t, dump(t, c), dump(t, b))
	require.Equal(t, dump(t, a), dump(t, b))
	cur, _, err := replica.ReadCursor(ctx, b, backendtest.Meta(t, a).StoreID)
	require.NoError(t, err)
	require.Equal(t, backendtest.Meta(t, a).Seq, cur.Through)
}

func TestFutureStampsRefused(t *testing.T) {
	future := func() time.Time { return time.Now().Add(time.Hour) }
	a := backendtest.New(t, openWith(future)).Open()
	b := newStore(t)
	root := backendtest.NewRootNode(t, a, anchor.Access{})
	res, err := replica.Import(ctx, b, bytes.NewReader(exportBytes(t, a, nil)), &replica.ImportOptions{MaxSkew: time.Minute})
	require.NoError(t, err)
	require.Equal(t, 1, res.Stats.Total().Refused)
	require.Len(t, res.Stats.Refusals, 1)
	require.Equal(t, root, res.Stats.Refusals[0].ID)
	require.Contains(t, res.Stats.Refusals[0].Reason, "beyond the accepted bound")
	_, err = tiered.New(b, anchor.SystemRoot, nil).Get(ctx, root)
	require.ErrorIs(t, err, anchor.ErrNotFound)
}

func TestBadFiles(t *testing.T) {
	a, b := newStore(t), newStore(t)
	buildGraph(t, a)
	file := exportBytes(t, a, nil)
	seq := backendtest.Meta(t, b).Seq
	flip := bytes.Clone(file)
	flip[len(flip)/2] ^= 0x20
	newer := bytes.Clone(file)
	newer[9]++
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, replica.ErrNotExport},
		{"garbage", bytes.Repeat([]byte("garbage!"), 100), replica.ErrNotExport},
		{"newer format", newer, anchor.ErrVersion},
		{"bit flip", flip, anchor.ErrCorrupt},
		{"header only", file[:40], anchor.ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := replica.Import(ctx, b, bytes.NewReader(tc.in), nil)
			require.ErrorIs(t, err, tc.want)
		})
	}
	require.Equal(t, seq, backendtest.Meta(t, b).Seq, "every damage above is in the header or the only chunk: nothing applied")
	_, err := replica.Import(ctx, a, bytes.NewReader(file), nil)
	require.ErrorIs(t, err, anchor.ErrIntegrity, "importing a store's own export into itself is refused")
}

func TestExportFileOnDisk(t *testing.T) {
	a, b := newStore(t), newStore(t)
	buildGraph(t, a)
	path := filepath.Join(t.TempDir(), "a.anchx")
	f, err := os.Create(path)
	require.NoError(t, err)
	var progress []replica.Progress
	res, err := replica.Export(ctx, a, f, &replica.ExportOptions{ChunkRecords: 10, Progress: func(p replica.Progress) { progress = append(progress, p) }})
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Len(t, progress, res.Chunks)
	require.Equal(t, res.Records, progress[len(progress)-1].Records)
	f, err = os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	_, err = replica.Import(ctx, b, f, nil)
	require.NoError(t, err)
	require.Equal(t, dump(t, a), dump(t, b))
}

func TestCheck(t *testing.T) {
	a := newStore(t)
	buildGraph(t, a)
	file := exportBytes(t, a, &replica.ExportOptions{ChunkRecords: 4})
	res, err := replica.Check(bytes.NewReader(file))
	require.NoError(t, err)
	require.Positive(t, res.Chunks)
	require.Equal(t, backendtest.Meta(t, a).StoreID, res.Header.SourceStore)
	for cut := 11; cut < len(file); cut += len(file) / 7 {
		_, err := replica.Check(bytes.NewReader(file[:cut]))
		require.ErrorIs(t, err, anchor.ErrCorrupt, "cut at %d", cut)
	}
	flip := bytes.Clone(file)
	flip[len(flip)-30] ^= 1
	_, err = replica.Check(bytes.NewReader(flip))
	require.ErrorIs(t, err, anchor.ErrCorrupt)
}
