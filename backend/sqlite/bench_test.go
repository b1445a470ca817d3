package sqlite_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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
			path, root := sharedStore(b, opts)
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
			s, err := sqlite.Open(path, &opts)
			require.NoError(b, err)
			defer s.Close()
			b.ReportMetric(float64(commits+0*b.N-backendtest.EdgeCount(b, s, root)), "edges-lost")
		})
	}
}

// BenchmarkProcesses32 sets 32 OS processes with one walker each against
// 32 walkers (goroutines, each with its own tiered.Memory) in one process,
// in the same run, on the same workload: each walker loads the shared root
// once, then commits per times a new node with an edge from the root. It
// reports commits/s of both (from the first walker's start to the last
// walker's end; process start-up excluded), their ratio, and the median
// and 99th percentile of one commit's latency in each. Every case starts from a
// fresh file and fails if the root lacks an edge of an acknowledged
// commit.
//
// ANCHORAGE_BENCH_CPUPROFILE=dir makes every child process write its CPU
// profile to dir (go tool pprof merges them: pass them all).
func BenchmarkProcesses32(b *testing.B) {
	const walkers, per = 32, 60
	profDir := os.Getenv("ANCHORAGE_BENCH_CPUPROFILE")
	for _, mode := range []struct {
		name string
		sync sqlite.Synchronous
	}{{"sync=full", sqlite.SyncFull}, {"sync=normal", sqlite.SyncNormal}} {
		b.Run(mode.name, func(b *testing.B) {
			opts := sqlite.Options{Synchronous: mode.sync}
			var one, many runStats
			for b.Loop() {
				// (a) one process, 32 goroutines.
				path, root := sharedStore(b, opts)
				s, err := sqlite.Open(path, &opts)
				require.NoError(b, err)
				r := runWalkers(s, root, walkers, per)
				one.add(b, r)
				requireEdges(b, s, root, r.Commits)
				require.NoError(b, s.Close())

				// (b) 32 processes, one walker each.
				path, root = sharedStore(b, opts)
				cfg := childConfig{Path: path, Root: root, Walkers: 1, Per: per, Sync: mode.sync}
				var rs []childResult
				if profDir != "" {
					rs = runProcessesWith(b, walkers, cfg, func(i int, c *childConfig) {
						c.CPUProfile = filepath.Join(profDir, fmt.Sprintf("child-%s-%02d.pprof", strings.TrimPrefix(mode.name, "sync="), i))
					}, nil)
				} else {
					rs = runProcesses(b, walkers, cfg)
				}
				all := childResult{Start: rs[0].Start, End: rs[0].End}
				for _, r := range rs {
					all.Commits += r.Commits
					all.NErrors += r.NErrors
					all.Errors = append(all.Errors, r.Errors...)
					all.Lat = append(all.Lat, r.Lat...)
					all.Start, all.End = min(all.Start, r.Start), max(all.End, r.End)
				}
				many.add(b, all)
				s, err = sqlite.Open(path, &opts)
				require.NoError(b, err)
				requireEdges(b, s, root, all.Commits)
				require.NoError(b, s.Close())
			}
			b.ReportMetric(one.rate(), "goroutines-commits/s")
			b.ReportMetric(many.rate(), "procs-commits/s")
			b.ReportMetric(many.rate()/one.rate(), "ratio")
			b.ReportMetric(one.pct(50), "goroutines-p50-ms")
			b.ReportMetric(many.pct(50), "procs-p50-ms")
			b.ReportMetric(one.pct(99), "goroutines-p99-ms")
			b.ReportMetric(many.pct(99), "procs-p99-ms")
			b.ReportMetric(0, "edges-lost") // requireEdges failed the run otherwise
		})
	}
}

// runStats sums walker results over a benchmark's iterations.
type runStats struct {
	commits int
	busy    time.Duration
	lat     []int64
}

func (st *runStats) add(b *testing.B, r childResult) {
	b.Helper()
	if r.NErrors > 0 {
		b.Fatalf("%d commits failed: %v", r.NErrors, r.Errors)
	}
	st.commits += r.Commits
	st.busy += time.Duration(r.End - r.Start)
	st.lat = append(st.lat, r.Lat...)
}

func (st *runStats) rate() float64 { return float64(st.commits) / st.busy.Seconds() }

// pct is the p-th percentile commit latency in milliseconds.
func (st *runStats) pct(p int) float64 {
	if len(st.lat) == 0 {
		return 0
	}
	l := slices.Clone(st.lat)
	slices.Sort(l)
	return float64(l[(len(l)*p+99)/100-1]) / 1000
}

// requireEdges fails the benchmark if the root lacks an edge of an
// acknowledged commit.
func requireEdges(b *testing.B, s *sqlite.Store, root anchor.ID, commits int) {
	b.Helper()
	if n := backendtest.EdgeCount(b, s, root); n != commits {
		b.Fatalf("edges lost: %d acknowledged commits, %d edges on the root", commits, n)
	}
}
