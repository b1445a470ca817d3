package sqlite_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/tiered"
)

var benchModes = []struct {
	name string
	opts sqlite.Options
}{
	{"sync=full/group=on", sqlite.Options{}},
	{"sync=full/group=off", sqlite.Options{NoGroupCommit: true}},
	{"sync=normal/group=on", sqlite.Options{Synchronous: sqlite.SyncNormal}},
	{"sync=normal/group=off", sqlite.Options{Synchronous: sqlite.SyncNormal, NoGroupCommit: true}},
}

// BenchmarkCommit measures commits/s through tiered.Memory in one process:
// each operation is one walker creating a node, connecting it to a root
// shared by all walkers, and committing. Walkers run concurrently, each in
// its own goroutine with its own Memory. edges-lost must be 0.
func BenchmarkCommit(b *testing.B) {
	for _, mode := range benchModes {
		for _, walkers := range []int{1, 8, 64} {
			b.Run(fmt.Sprintf("%s/walkers=%d", mode.name, walkers), func(b *testing.B) {
				opts := mode.opts
				s, err := sqlite.Open(filepath.Join(b.TempDir(), "bench.sqlite"), &opts)
				require.NoError(b, err)
				defer s.Close()
				root := backendtest.NewRootNode(b, s, anchor.Access{All: anchor.Connect})
				work := make(chan struct{})
				var (
					wg     sync.WaitGroup
					failed atomic.Int64
					first  atomic.Value
				)
				for range walkers {
					m := tiered.New(s, anchor.NewID(), nil)
					_, err := m.Get(ctx, root)
					require.NoError(b, err)
					wg.Go(func() {
						i := 0
						for range work {
							if err := commitEdge(m, root, i); err != nil {
								failed.Add(1)
								first.CompareAndSwap(nil, err)
							}
							i++
						}
					})
				}
				start := time.Now()
				for b.Loop() {
					work <- struct{}{}
				}
				close(work)
				wg.Wait()
				elapsed := time.Since(start)
				if n := failed.Load(); n > 0 {
					b.Fatalf("%d commits failed, first: %v", n, first.Load())
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
				b.ReportMetric(float64(b.N-backendtest.EdgeCount(b, s, root)), "edges-lost")
			})
		}
	}
}

// BenchmarkProcesses measures commits/s of 4 OS processes sharing one
// database file, each with 16 walkers (one iteration: 2,000 commits per
// process). The rate is taken over the span from the first child's start
// to the last child's end, without process start-up.
func BenchmarkProcesses(b *testing.B) {
	const procs, walkers, per = 4, 16, 125
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			opts := mode.opts
			path := filepath.Join(b.TempDir(), "shared.sqlite")
			s, err := sqlite.Open(path, &opts)
			require.NoError(b, err)
			root := backendtest.NewRootNode(b, s, anchor.Access{All: anchor.Connect})
			require.NoError(b, s.Close())
			var commits int
			var busy time.Duration
			for b.Loop() {
				rs := runProcesses(b, procs, childConfig{Path: path, Root: root, Walkers: walkers, Per: per,
					Sync: opts.Synchronous, NoGroup: opts.NoGroupCommit})
				lo, hi := rs[0].Start, rs[0].End
				for _, r := range rs {
					if r.NErrors > 0 {
						b.Fatalf("a child saw %d errors: %v", r.NErrors, r.Errors)
					}
					commits += r.Commits
					lo, hi = min(lo, r.Start), max(hi, r.End)
				}
				busy += time.Duration(hi - lo)
			}
			b.ReportMetric(float64(commits)/busy.Seconds(), "commits/s")
			s, err = sqlite.Open(path, &opts)
			require.NoError(b, err)
			defer s.Close()
			b.ReportMetric(float64(commits+0*b.N-backendtest.EdgeCount(b, s, root)), "edges-lost")
		})
	}
}
