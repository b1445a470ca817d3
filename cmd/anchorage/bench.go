package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/internal/naive"
	"github.com/anchorage-db/anchorage/tiered"
)

// Series names of the benchmark: a backend in a commit mode, or the naive
// whole-document writer.
const (
	modeGroup   = "group"    // group commit: concurrent batches share one transaction
	modeNoGroup = "nogroup"  // one transaction (and fsync) per batch
	modeWhole   = "wholedoc" // the naive strategy: whole documents, no merge
	naiveName   = "naive"
)

type benchConfig struct {
	walkers  []int
	duration time.Duration
	hubSizes []int
	hubBatch int
	minOps   int
	backends []string
	modes    []string
	naive    bool
	noSync   bool
	asJSON   bool
	csvPath  string
	plotPath string
	dir      string
	pgDSN    string // --postgres: measure the postgres backend on this server
	quiet    bool
}

// benchStore opens a fresh store of backend name for one bench point: a
// file in dir, or, for postgres, a new schema on the --postgres server. The
// returned cleanup closes it and, for postgres, drops the schema.
func benchStore(cfg benchConfig, name, dir, file string, o storeOptions) (backend.Store, func(), error) {
	path := filepath.Join(dir, file)
	if name == "postgres" {
		path, o.Schema = cfg.pgDSN, "anchorage_bench_"+strings.ReplaceAll(anchor.NewID().String(), "-", "")
	}
	s, err := openStore(name, path, o)
	if err != nil {
		return nil, nil, err
	}
	return s, func() {
		s.Close()
		if name == "postgres" {
			postgres.Drop(cfg.pgDSN, o.Schema) //nolint:errcheck // best effort: the point's result stands
		}
	}, nil
}

// throughputPoint is one measured point of commits/s against walkers.
type throughputPoint struct {
	Backend       string  `json:"backend"`
	Mode          string  `json:"mode"`
	Walkers       int     `json:"walkers"`
	Commits       int64   `json:"commits"`
	Errors        int64   `json:"errors"`
	EdgesLost     int64   `json:"edges_lost"` // commits whose edge is not on the root afterwards
	Seconds       float64 `json:"seconds"`
	CommitsPerSec float64 `json:"commits_per_sec"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
}

// hubPoint is the cost of adding one edge to a node that already has
// HubEdges edges.
type hubPoint struct {
	Backend      string  `json:"backend"`
	Mode         string  `json:"mode"`
	HubEdges     int     `json:"hub_edges"`
	Adds         int     `json:"adds"`
	Errors       int     `json:"errors"`
	Seconds      float64 `json:"seconds"`
	AddsPerSec   float64 `json:"adds_per_sec"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	BuildSeconds float64 `json:"build_seconds"` // growing the hub from the previous size to this one
}

type machineInfo struct {
	GOOS     string `json:"goos"`
	GOARCH   string `json:"goarch"`
	CPUs     int    `json:"cpus"`
	MemBytes int64  `json:"mem_bytes,omitempty"`
	Go       string `json:"go"`
}

type benchSettings struct {
	Walkers  []int    `json:"walkers"`
	Duration string   `json:"duration_per_point"`
	HubSizes []int    `json:"hub_sizes"`
	Backends []string `json:"backends"`
	Modes    []string `json:"modes"`
	Naive    bool     `json:"naive"`
	Fsync    bool     `json:"fsync"`
}

type benchOutput struct {
	Machine    machineInfo       `json:"machine"`
	Settings   benchSettings     `json:"settings"`
	Throughput []throughputPoint `json:"throughput"`
	Hub        []hubPoint        `json:"hub"`
}

func newBenchCmd() *cobra.Command {
	var (
		cfg                          benchConfig
		walkers, hubSizes, backs, md string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure commits/s and latency by walkers, and edge-add cost on hub nodes",
		Long: `bench measures two things, each point in a fresh store in a temporary
directory:

Throughput: W concurrent walkers, each repeatedly doing what a request does
to a shared user root: load it into a fresh walker memory, create a node,
connect it to the root, commit (one batch, one edge). Reported per backend
and commit mode (group: concurrent batches share one transaction and one
fsync; nogroup: one transaction per batch), and for the naive whole-document
writer: commits/s, p50/p99 commit latency, and edges lost (commits whose
edge is missing from the root afterwards).

Hub: one walker adding edges, one per commit, to a node that already has
10, 10^3, 10^5, 10^6 edges (--hub-sizes). The hub is grown between sizes with large batches
(up to --hub-batch edges per transaction) and fsync off, as setup; the time
to grow it is reported too, and the adds are measured with fsync as
configured. The naive writer rewrites the whole hub document on
every add.

Every point runs for --duration (and at least --min-ops operations); a hub
point also stops before its adds take the hub to the next size. Commits are
fsynced unless --nosync. The table goes to stdout; --json prints JSON
instead; --csv and --plot write files as well.`,
		Example: `  anchorage bench
  anchorage bench --walkers 1,8 --duration 500ms --hub-sizes 10,1000
  anchorage bench --json --csv bench.csv --plot throughput.svg > bench.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.walkers, err = parseInts("--walkers", walkers, 1); err != nil {
				return err
			}
			if cfg.hubSizes, err = parseInts("--hub-sizes", hubSizes, 1); err != nil {
				return err
			}
			slices.Sort(cfg.hubSizes)
			cfg.hubSizes = slices.Compact(cfg.hubSizes)
			cfg.backends = splitList(backs)
			cfg.modes = splitList(md)
			for _, m := range cfg.modes {
				if m != modeGroup && m != modeNoGroup {
					return usageError("bench: unknown --modes value %q (want %s, %s)", m, modeGroup, modeNoGroup)
				}
			}
			if cfg.pgDSN != "" && !cmd.Flags().Changed("backends") {
				cfg.backends = append(cfg.backends, "postgres")
			}
			for _, b := range cfg.backends {
				if err := checkBackend(b); err != nil {
					return fail(err)
				}
				if b == "postgres" && cfg.pgDSN == "" {
					return usageError("bench: --backends postgres needs --postgres CONNECTION-STRING (each point gets a fresh schema there)")
				}
			}
			if cfg.duration <= 0 || cfg.hubBatch < 1 || cfg.minOps < 1 {
				return usageError("bench: --duration, --hub-batch and --min-ops must be positive")
			}
			return runBench(ctxOf(cmd), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&walkers, "walkers", "1,8,64,256", "comma-separated walker counts for the throughput points")
	f.DurationVar(&cfg.duration, "duration", 2*time.Second, "how long each point runs")
	f.StringVar(&hubSizes, "hub-sizes", "10,1000,100000,1000000", `comma-separated hub sizes (edges) for the edge-add points; "" skips them`)
	f.IntVar(&cfg.hubBatch, "hub-batch", 250000, "most edges per transaction when growing a hub (batches start at 1000 and double with the hub)")
	f.IntVar(&cfg.minOps, "min-ops", 5, "operations each hub point runs at least, even past --duration")
	f.StringVar(&backs, "backends", joinList(backendNames()), "comma-separated backends to measure")
	f.StringVar(&md, "modes", modeGroup+","+modeNoGroup, "comma-separated commit modes: group, nogroup")
	f.BoolVar(&cfg.naive, "naive", true, "also measure the naive whole-document writer (the control)")
	f.BoolVar(&cfg.noSync, "nosync", false, "skip fsync on commit (default: fsync every commit, as in production)")
	f.BoolVar(&cfg.asJSON, "json", false, "print the results as JSON instead of tables")
	f.StringVar(&cfg.csvPath, "csv", "", "also write the results as CSV to this file")
	f.StringVar(&cfg.plotPath, "plot", "", "also draw throughput against walkers to this file (.svg, .png, .pdf)")
	f.StringVar(&cfg.dir, "dir", "", "directory for the temporary stores (default: the system temp dir)")
	f.StringVar(&cfg.pgDSN, "postgres", "", "also measure the postgres backend on this server (a connection string; each point uses a fresh schema, dropped afterwards)")
	f.BoolVarP(&cfg.quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

func joinList(s []string) string { return strings.Join(s, ",") }

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseInts parses a comma-separated list of integers >= min; "1e6" and
// "10^6" are accepted too.
func parseInts(flag, s string, min int) ([]int, error) {
	var out []int
	for _, p := range splitList(s) {
		n, err := parseCount(p)
		if err != nil || n < min {
			return nil, usageError("bench: %s: %q is not a whole number >= %d", flag, p, min)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseCount(s string) (int, error) {
	if base, exp, ok := strings.Cut(s, "^"); ok {
		b, err1 := strconv.Atoi(base)
		e, err2 := strconv.Atoi(exp)
		if err1 != nil || err2 != nil || e < 0 || e > 12 {
			return 0, fmt.Errorf("bad power %q", s)
		}
		n := 1
		for range e {
			n *= b
		}
		return n, nil
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f != math.Trunc(f) || f > 1e12 {
			return 0, fmt.Errorf("bad number %q", s)
		}
		return int(f), nil
	}
	return strconv.Atoi(s)
}

func runBench(ctx context.Context, cfg benchConfig, stdout, stderr io.Writer) error {
	out := benchOutput{Machine: machine(), Settings: benchSettings{Walkers: cfg.walkers, Duration: cfg.duration.String(),
		HubSizes: cfg.hubSizes, Backends: cfg.backends, Modes: cfg.modes, Naive: cfg.naive, Fsync: !cfg.noSync},
		Throughput: []throughputPoint{}, Hub: []hubPoint{}}
	type series struct{ backend, mode string }
	var all []series
	for _, b := range cfg.backends {
		for _, m := range cfg.modes {
			all = append(all, series{b, m})
		}
	}
	if cfg.naive {
		all = append(all, series{naiveName, modeWhole})
	}
	hubSeries := len(cfg.backends)
	if cfg.naive {
		hubSeries++
	}
	bar := newBar(stderr, int64(len(all)*len(cfg.walkers)+hubSeries*len(cfg.hubSizes)), cfg.quiet, "bench")
	for _, s := range all {
		for _, w := range cfg.walkers {
			bar.Describe(fmt.Sprintf("%s/%s %d walkers", s.backend, s.mode, w))
			p, err := benchThroughput(ctx, cfg, s.backend, s.mode, w)
			if err != nil {
				return fail(fmt.Errorf("bench %s/%s at %d walkers: %w", s.backend, s.mode, w, err))
			}
			out.Throughput = append(out.Throughput, p)
			_ = bar.Add(1)
		}
	}
	if len(cfg.hubSizes) > 0 {
		hubs := slices.Clone(cfg.backends)
		if cfg.naive {
			hubs = append(hubs, naiveName)
		}
		for _, b := range hubs {
			pts, err := benchHub(ctx, cfg, b, func(size int) {
				bar.Describe(fmt.Sprintf("%s hub %d edges", b, size))
			}, func() { _ = bar.Add(1) })
			if err != nil {
				return fail(fmt.Errorf("bench %s hub: %w", b, err))
			}
			out.Hub = append(out.Hub, pts...)
		}
	}
	_ = bar.Finish()

	if cfg.csvPath != "" {
		if err := writeBenchCSV(cfg.csvPath, out); err != nil {
			return fail(err)
		}
	}
	if cfg.plotPath != "" {
		if err := plotThroughput(cfg.plotPath, out); err != nil {
			return fail(err)
		}
	}
	if cfg.asJSON {
		return writeJSON(stdout, out)
	}
	printBench(stdout, out)
	return nil
}

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
		root, err := createRoot(ctx, s, "Root", map[string]any{"name": "bench-user"})
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
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
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
		hub, err := createRoot(ctx, s, "Hub", nil)
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

func printBench(w io.Writer, out benchOutput) {
	m := out.Machine
	mem := ""
	if m.MemBytes > 0 {
		mem = ", " + humanBytes(m.MemBytes)
	}
	fsync := "fsync on every commit"
	if !out.Settings.Fsync {
		fsync = "no fsync (--nosync)"
	}
	fmt.Fprintf(w, "machine: %s/%s, %d CPUs%s, %s; %s; %s per point\n", m.GOOS, m.GOARCH, m.CPUs, mem, m.Go, fsync, out.Settings.Duration)
	if len(out.Throughput) > 0 {
		fmt.Fprintln(w, "\nthroughput: each commit adds one node and one edge to a shared user root")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "backend\tmode\twalkers\tcommits\tcommits/s\tp50 ms\tp99 ms\tedges lost\terrors\t")
		for _, p := range out.Throughput {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%d\t%d\t\n", p.Backend, p.Mode, p.Walkers, p.Commits,
				p.CommitsPerSec, p.P50Ms, p.P99Ms, p.EdgesLost, p.Errors)
		}
		tw.Flush()
	}
	if len(out.Hub) > 0 {
		fmt.Fprintln(w, "\nhub: one walker adds one edge per commit to a node that already has N edges")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "backend\tmode\thub edges\tadds\tadds/s\tp50 ms\tp99 ms\tgrow s\t")
		for _, p := range out.Hub {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.1f\t\n", p.Backend, p.Mode, p.HubEdges, p.Adds,
				p.AddsPerSec, p.P50Ms, p.P99Ms, p.BuildSeconds)
		}
		tw.Flush()
	}
}

func writeBenchCSV(path string, out benchOutput) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(f)
	_ = cw.Write([]string{"section", "backend", "mode", "walkers", "hub_edges", "ops", "errors", "edges_lost",
		"seconds", "ops_per_sec", "p50_ms", "p99_ms", "grow_seconds"})
	ff := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	for _, p := range out.Throughput {
		_ = cw.Write([]string{"throughput", p.Backend, p.Mode, strconv.Itoa(p.Walkers), "",
			strconv.FormatInt(p.Commits, 10), strconv.FormatInt(p.Errors, 10), strconv.FormatInt(p.EdgesLost, 10),
			ff(p.Seconds), ff(p.CommitsPerSec), ff(p.P50Ms), ff(p.P99Ms), ""})
	}
	for _, p := range out.Hub {
		_ = cw.Write([]string{"hub", p.Backend, p.Mode, "1", strconv.Itoa(p.HubEdges),
			strconv.Itoa(p.Adds), strconv.Itoa(p.Errors), "",
			ff(p.Seconds), ff(p.AddsPerSec), ff(p.P50Ms), ff(p.P99Ms), ff(p.BuildSeconds)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
