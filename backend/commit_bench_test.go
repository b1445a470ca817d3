package backend_test

import (
	"context"
	"fmt"
	"path/filepath"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
)

// countingDriver counts the write transactions that committed.
type countingDriver struct {
	backend.Driver
	commits *atomic.Int64
}

func (d countingDriver) Begin(ctx context.Context) (backend.Tx, error) {
	tx, err := d.Driver.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return countingTx{tx, d.commits}, nil
}

type countingTx struct {
	backend.Tx
	commits *atomic.Int64
}

func (t countingTx) Commit() error {
	err := t.Tx.Commit()
	if err == nil {
		t.commits.Add(1)
	}
	return err
}

// connectBatch is what a walker's request writes: a new node of its own
// and an edge to the shared root.
func connectBatch(walker, root anchor.ID) *delta.Batch {
	n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: walker, Type: "Item"}
	if err := n.SetField("v", 1); err != nil {
		panic(err)
	}
	e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: walker, Type: "Has", Source: root, Target: n.ID}
	return &delta.Batch{Root: walker, Changes: []delta.Change{{ID: n.ID, Create: n}, {ID: e.ID, Create: e}}}
}

// bareRun writes the keys the full path writes for each batch (the two
// records, their change-log entries, their index entries: one archetype
// entry each and the edge's two adjacency entries) with no reads, checks
// or merge, in one transaction per group.
func bareRun(d backend.Driver, stamp *atomic.Uint64) func([]delta.Write) error {
	return func(ws []delta.Write) error {
		tx, err := d.Begin(context.Background())
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, w := range ws {
			at := anchor.HLC(stamp.Add(1))
			for _, c := range w.(*delta.Batch).Changes {
				a := c.Create.Clone()
				a.Created, a.Updated = at, at
				for name, f := range a.Fields {
					a.Fields[name] = anchor.Field{Value: f.Value, Stamp: at}
				}
				if err := tx.PutAnchor(a); err != nil {
					return err
				}
				if err := tx.Logged(a.ID); err != nil {
					return err
				}
				keys, values := (&delta.Indexes{}).StoredEntries(a)
				for i, k := range keys {
					if err := tx.PutIndex(k, values[i]); err != nil {
						return err
					}
				}
			}
		}
		return tx.Commit()
	}
}

// BenchmarkCommitter compares the full merge path (Engine.Apply: validate,
// queue, delta.Apply with its reads and checks) with a bare group
// committer writing the same keys (bareRun), on bolt with fsync on and off
// (off shows the committer's CPU cost without the disk). Each operation is
// one walker's batch: a new node and an edge to a shared root. The two
// run in alternating rounds of the same length within one benchmark, so
// load from elsewhere on the machine hits both alike; "bare/full" is how
// many times faster the bare committer was (the target is at most 1.2).
// Every run counts the root's edges.
func BenchmarkCommitter(b *testing.B) {
	const round = 3000 // commits per round and side
	for _, sync := range []bool{true, false} {
		for _, walkers := range []int{64, 256} {
			b.Run(fmt.Sprintf("fsync=%v/walkers=%d", sync, walkers), func(b *testing.B) {
				full, fullTx := committerStore(b, sync)
				bare, _ := committerStore(b, sync)
				fullRoot := backendtest.NewRootNode(b, full, anchor.Access{All: anchor.Connect})
				bareRoot := backendtest.NewRootNode(b, bare, anchor.Access{All: anchor.Connect})
				var stamp atomic.Uint64
				stamp.Store(uint64(backendtest.Meta(b, bare).HLC) + 1<<20)
				var bareTx atomic.Int64
				run := bareRun(bare.Driver(), &stamp)
				bc := backend.NewBareCommitter(backend.DefaultMaxGroup, func(ws []delta.Write) error {
					err := run(ws)
					if err == nil {
						bareTx.Add(1)
					}
					return err
				})
				defer bc.Close()
				fullTx.Store(0)
				bareTx.Store(0)
				var tFull, tBare time.Duration
				n := 0
				for b.Loop() {
					tBare += walk(b, walkers, round, bareRoot, func(w delta.Write) error { return bc.Submit(context.Background(), w) })
					tFull += walk(b, walkers, round, fullRoot, func(w delta.Write) error { _, err := full.Apply(context.Background(), w); return err })
					n += round
				}
				b.ReportMetric(float64(n)/tFull.Seconds(), "full_commits/s")
				b.ReportMetric(float64(n)/tBare.Seconds(), "bare_commits/s")
				b.ReportMetric(tFull.Seconds()/tBare.Seconds(), "bare/full")
				b.ReportMetric(float64(n)/float64(max(fullTx.Load(), 1)), "full_commits/tx")
				b.ReportMetric(float64(n)/float64(max(bareTx.Load(), 1)), "bare_commits/tx")
				b.ReportMetric(0, "ns/op")
				if got := backendtest.EdgeCount(b, full, fullRoot); got != n {
					b.Fatalf("full path stored %d edges, want %d", got, n)
				}
				if got := backendtest.EdgeCount(b, bare, bareRoot); got != n {
					b.Fatalf("bare committer stored %d edges, want %d", got, n)
				}
			})
		}
	}
}

// committerStore opens an engine over a bolt driver that counts commits.
func committerStore(b *testing.B, sync bool) (*backend.Engine, *atomic.Int64) {
	d, err := bolt.OpenDriver(filepath.Join(b.TempDir(), "c.db"), &bolt.Options{NoSync: !sync})
	if err != nil {
		b.Fatal(err)
	}
	commits := new(atomic.Int64)
	s, err := backend.New(countingDriver{d, commits}, "bench", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s, commits
}

// walk runs n connect batches from walkers goroutines through apply and
// returns how long they took.
func walk(b *testing.B, walkers, n int, root anchor.ID, apply func(delta.Write) error) time.Duration {
	var next atomic.Int64
	var wg gosync.WaitGroup
	start := time.Now()
	for range walkers {
		wg.Go(func() {
			walker := anchor.NewID()
			for next.Add(1) <= int64(n) {
				if err := apply(connectBatch(walker, root)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}
