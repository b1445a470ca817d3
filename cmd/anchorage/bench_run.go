package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/internal/naive"
	"github.com/anchorage-db/anchorage/tiered"
)

func machine() machineInfo {
	m := machineInfo{GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/meminfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int64
			if _, err := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); err == nil {
				m.MemBytes = kb * 1024
				break
			}
		}
	}
	return m
}

// latencies collects operation durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

// percentile returns the q-quantile (0..1) in milliseconds, nearest rank.
func percentile(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	i = max(0, min(i, len(s)-1))
	return float64(s[i]) / float64(time.Millisecond)
}

// benchThroughput runs one throughput point: walkers goroutines adding one
// edge per commit to a shared root for cfg.duration.
func benchThroughput(ctx context.Context, cfg benchConfig, name, mode string, walkers int) (throughputPoint, error) {
	p := throughputPoint{Backend: name, Mode: mode, Walkers: walkers}
	dir, err := os.MkdirTemp(cfg.dir, "anchorage-bench-")
	if err != nil {
		return p, err
	}
	defer os.RemoveAll(dir)

	var op func(ctx context.Context) error
	var stored func() (int, error)
	if name == naiveName {
		ns, err := naive.Open(filepath.Join(dir, "naive.db"), cfg.noSync)
		if err != nil {
			return p, err
		}
		defer ns.Close()
		root := anchor.NewID()
		w := ns.NewWalker()
		if err := w.Set(root, "name", "bench-user"); err != nil {
			return p, err
		}
		if err := w.Commit(); err != nil {
			return p, err
		}
		op = func(context.Context) error {
			w := ns.NewWalker()
			if _, err := w.Connect(root, anchor.NewID()); err != nil {
				return err
			}
			return w.Commit()
		}
		stored = func() (int, error) { return ns.Edges(root) }
	} else {
		s, cleanup, err := benchStore(cfg, name, dir, "bench.db", storeOptions{NoSync: cfg.noSync, NoGroupCommit: mode == modeNoGroup})
		if err != nil {
			return p, err
		}
		defer cleanup()
		root, err := tiered.CreateRoot(ctx, s, map[string]any{"name": "bench-user"})
		if err != nil {
			return p, err
		}
		op = func(ctx context.Context) error { return addEdge(ctx, s, root, "Post") }
		stored = func() (int, error) { return countEdges(ctx, s, root) }
	}

	var lat latencies
	var commits, errs atomic.Int64
	deadline := time.Now().Add(cfg.duration)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range walkers {
		wg.Go(func() {
			local := make([]time.Duration, 0, 1024)
			<-start
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t := time.Now()
				if err := op(ctx); err != nil {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t))
				commits.Add(1)
			}
			lat.add(local)
		})
	}
	t0, cpu0 := time.Now(), processCPU()
	close(start)
	wg.Wait()
	elapsed, cpu := time.Since(t0), processCPU()-cpu0
	if err := ctx.Err(); err != nil {
		return p, err
	}
	n, err := stored()
	if err != nil {
		return p, err
	}
	p.Commits, p.Errors, p.Seconds = commits.Load(), errs.Load(), elapsed.Seconds()
	p.EdgesLost = p.Commits - int64(n)
	p.CommitsPerSec = float64(p.Commits) / elapsed.Seconds()
	p.P50Ms, p.P99Ms = percentile(lat.d, 0.50), percentile(lat.d, 0.99)
	p.Cores = cpu.Seconds() / elapsed.Seconds()
	return p, nil
}

// addEdge is one walker request: a fresh walker memory loads root, creates
// a node, connects it to root and commits, as root.
func addEdge(ctx context.Context, s backend.Store, root anchor.ID, typ string) error {
	m := tiered.New(s, root, nil)
	n, err := m.Create(anchor.KindNode, typ, nil)
	if err != nil {
		return err
	}
	if _, err := m.Connect(ctx, root, n, "Has"+typ, nil); err != nil {
		return err
	}
	return m.Commit(ctx)
}

func countEdges(ctx context.Context, s backend.Store, node anchor.ID) (int, error) {
	n := 0
	err := s.View(ctx, func(v backend.View) error {
		return v.Adjacent(node, func(anchor.Adj) error { n++; return nil })
	})
	return n, err
}

// benchHub grows one hub node through cfg.hubSizes and measures the cost of
// one more edge at each size.
func benchHub(ctx context.Context, cfg benchConfig, name string, describe func(int), done func()) ([]hubPoint, error) {
	dir, err := os.MkdirTemp(cfg.dir, "anchorage-hub-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	var grow func(n int) error
	var op func(ctx context.Context) error
	mode := modeGroup
	have := 0
	if name == naiveName {
		mode = modeWhole
		ns, err := naive.Open(filepath.Join(dir, "naive.db"), cfg.noSync)
		if err != nil {
			return nil, err
		}
		defer ns.Close()
		hub, leaf := anchor.NewID(), anchor.NewID()
		// The naive store can only grow a document through a walker; one
		// walker appends n edges (all to one leaf, to keep the build to two
		// documents) and writes both documents once.
		grow = func(n int) error {
			w := ns.NewWalker()
			for range n {
				if _, err := w.Connect(hub, leaf); err != nil {
					return err
				}
			}
			return w.Commit()
		}
		op = func(context.Context) error {
			w := ns.NewWalker()
			if _, err := w.Connect(hub, anchor.NewID()); err != nil {
				return err
			}
			return w.Commit()
		}
	} else {
		// The hub is grown with fsync off (setup, not measured; the store
		// is closed, which flushes it, before measuring) and the adds are
		// measured with the store reopened as configured.
		path, schema := filepath.Join(dir, "hub.db"), ""
		if name == "postgres" {
			path, schema = cfg.pgDSN, "anchorage_hub_"+strings.ReplaceAll(anchor.NewID().String(), "-", "")
		}
		var s backend.Store
		defer func() {
			if s != nil {
				s.Close()
				if schema != "" {
					postgres.Drop(cfg.pgDSN, schema) //nolint:errcheck // best effort: the points' results stand
				}
			}
		}()
		reopen := func(noSync bool) error {
			if s != nil {
				if err := s.Close(); err != nil {
					return err
				}
			}
			var err error
			s, err = openStore(name, path, storeOptions{NoSync: noSync, Schema: schema})
			return err
		}
		if err := reopen(cfg.noSync); err != nil {
			return nil, err
		}
		hub, err := tiered.CreateRoot(ctx, s, nil)
		if err != nil {
			return nil, err
		}
		grow = func(n int) error {
			if err := reopen(true); err != nil {
				return err
			}
			if err := growHub(ctx, s, hub, have, n, cfg.hubBatch); err != nil {
				return err
			}
			return reopen(cfg.noSync)
		}
		op = func(ctx context.Context) error { return addEdge(ctx, s, hub, "Leaf") }
	}

	var out []hubPoint
	for i, size := range cfg.hubSizes {
		describe(size)
		// Stop adding before the hub reaches the next size, so each point
		// is measured on a hub of about the size it names.
		limit := math.MaxInt
		if i+1 < len(cfg.hubSizes) {
			limit = max(cfg.minOps, cfg.hubSizes[i+1]-size)
		}
		t := time.Now()
		if size > have {
			if err := grow(size - have); err != nil {
				return out, fmt.Errorf("growing the hub to %d edges: %w", size, err)
			}
			have = size
		}
		p := hubPoint{Backend: name, Mode: mode, HubEdges: have, BuildSeconds: time.Since(t).Seconds()}
		var lat []time.Duration
		t0 := time.Now()
		for (time.Since(t0) < cfg.duration || len(lat) < cfg.minOps) && len(lat) < limit && ctx.Err() == nil {
			t := time.Now()
			if err := op(ctx); err != nil {
				p.Errors++
				if p.Errors > 100 {
					return out, fmt.Errorf("adding edges at %d: %w", have, err)
				}
				continue
			}
			lat = append(lat, time.Since(t))
		}
		if err := ctx.Err(); err != nil {
			return out, err
		}
		elapsed := time.Since(t0)
		have += len(lat)
		p.Adds, p.Seconds = len(lat), elapsed.Seconds()
		p.AddsPerSec = float64(p.Adds) / elapsed.Seconds()
		p.P50Ms, p.P99Ms = percentile(lat, 0.50), percentile(lat, 0.99)
		out = append(out, p)
		done()
	}
	return out, nil
}

// growHub adds n edges from hub (which has have edges) to n new leaf
// nodes, committed as the hub's own root, in batches of at most maxBatch
// edges. Batches start at 1000 and double with the hub: bbolt splits a node
// only at commit, so k random inserts landing in the few pages of a small
// tree cost O(k²) memmove (measured: one 20,000-edge batch into an empty
// store took 21 s, the next one 1 s).
func growHub(ctx context.Context, s backend.Store, hub anchor.ID, have, n, maxBatch int) error {
	for n > 0 {
		k := min(n, maxBatch, max(1000, have))
		b := &delta.Batch{Root: hub, Changes: make([]delta.Change, 0, 2*k)}
		for range k {
			leaf := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: hub, Type: "Leaf"}
			edge := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: hub, Type: "HasLeaf",
				Source: hub, Target: leaf.ID}
			b.Changes = append(b.Changes, delta.Change{ID: leaf.ID, Create: leaf}, delta.Change{ID: edge.ID, Create: edge})
		}
		if _, err := s.Apply(ctx, b); err != nil {
			return err
		}
		n -= k
		have += k
	}
	return nil
}
