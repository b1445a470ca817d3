package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/postgres"
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
	walkers   []int
	duration  time.Duration
	hubSizes  []int
	hubBatch  int
	minOps    int
	backends  []string
	modes     []string
	naive     bool
	noSync    bool
	asJSON    bool
	csvPath   string
	plotPath  string
	dir       string
	pgDSN     string // --postgres: measure the postgres backend on this server
	pgProcs   int    // --pg-procs: client processes of the multi-process postgres points (0: none)
	pgWalkers int    // --pg-walkers: walkers in each of them
	quiet     bool
	force     bool // replace existing --csv and --plot files
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
	// Cores is the CPU time the whole process used during the point
	// (walkers, committer, garbage collector) over its wall time: 2.0 on
	// a two-core machine is both cores busy. 0 where it is not known.
	Cores float64 `json:"cores"`
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
	PGProcs    []pgProcPoint     `json:"postgres_processes,omitempty"`
}

func newBenchCmd() *cobra.Command {
	var (
		cfg               benchConfig
		walkers, hubSizes []string
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
writer: commits/s, p50/p99 commit latency, edges lost (commits whose
edge is missing from the root afterwards), and cores (the process's CPU
time over the point's wall time: 2.00 keeps two cores busy).

Hub: one walker adding edges, one per commit, to a node that already has
10, 10^3, 10^5, 10^6 edges (--hub-sizes). The hub is grown between sizes with large batches
(up to --hub-batch edges per transaction) and fsync off, as setup; the time
to grow it is reported too, and the adds are measured with fsync as
configured. The naive writer rewrites the whole hub document on
every add.

With --postgres and --pg-procs N, N client processes (this binary again),
each with --pg-walkers walkers, commit to one store for --duration: on
disjoint user roots (one per walker) and on one shared root, each with this
build's per-anchor locks and with the store-wide lock of the previous
design, and, for reference, one bare INSERT per commit on the same server.

Every point runs for --duration (and at least --min-ops operations); a hub
point also stops before its adds take the hub to the next size. Commits are
fsynced unless --no-sync. The table goes to stdout; --json prints JSON
instead; --csv and --plot write files as well (checked before the run, so
a bad path fails at once; an existing file is replaced only with --force).
The plot shows throughput, the hub cost and the edges the naive writer
lost.`,
		Example: `  anchorage bench
  anchorage bench --walkers 1,8 --duration 500ms --hub-sizes 10,1000
  anchorage bench --naive --json --csv bench.csv --plot bench.svg > bench.json
  anchorage bench --postgres "host=/run/postgresql dbname=bench" --pg-procs 4 --pg-walkers 64 --backends bolt --hub-sizes ""`,
		Args: exactArgs(),
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
			if cfg.pgProcs < 0 || cfg.pgWalkers < 1 {
				return usageError("bench: --pg-procs must not be negative and --pg-walkers must be positive")
			}
			if cfg.duration <= 0 || cfg.hubBatch < 1 || cfg.minOps < 1 {
				return usageError("bench: --duration, --hub-batch and --min-ops must be positive")
			}
			if err := checkBenchOutputs(cfg); err != nil {
				return err
			}
			return runBench(ctxOf(cmd), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&walkers, "walkers", []string{"1", "8", "64", "256"}, "walker counts for the throughput points (comma-separated or repeated)")
	f.DurationVar(&cfg.duration, "duration", 2*time.Second, "how long each point runs")
	f.StringSliceVar(&hubSizes, "hub-sizes", []string{"10", "1000", "100000", "1000000"}, `hub sizes (edges) for the edge-add points, 1e6 and 10^6 allowed; "" skips them`)
	f.IntVar(&cfg.hubBatch, "hub-batch", 250000, "most edges per transaction when growing a hub (batches start at 1000 and double with the hub)")
	f.IntVar(&cfg.minOps, "min-ops", 5, "operations each hub point runs at least, even past --duration")
	f.StringSliceVar(&cfg.backends, "backends", backendNames(), "backends to measure")
	completeValues(cmd, "backends", allBackends()...)
	f.StringSliceVar(&cfg.modes, "modes", []string{modeGroup, modeNoGroup}, "commit modes: group, nogroup")
	completeValues(cmd, "modes", modeGroup, modeNoGroup)
	f.BoolVar(&cfg.naive, "naive", false, "also measure the naive whole-document writer (the control that loses edges)")
	addNoSync(cmd, &cfg.noSync, "skip fsync on commit (default: fsync every commit, as in production)")
	addJSON(cmd, &cfg.asJSON, "the results")
	f.StringVar(&cfg.csvPath, "csv", "", "also write the results as CSV to this file")
	f.StringVar(&cfg.plotPath, "plot", "", "also draw the results to this file (.svg, .png, .pdf, .eps, .jpg, .tif)")
	f.BoolVar(&cfg.force, "force", false, "replace --csv and --plot files that exist")
	f.StringVar(&cfg.dir, "dir", "", "directory for the temporary stores (default: the system temp dir)")
	f.StringVar(&cfg.pgDSN, "postgres", "", "also measure the postgres backend on this server (a connection string; each point uses a fresh schema, dropped afterwards)")
	f.IntVar(&cfg.pgProcs, "pg-procs", 0, "with --postgres: also run N client processes against one store, on disjoint roots and on one shared root, against the previous store-wide-lock design and bare INSERTs")
	f.IntVar(&cfg.pgWalkers, "pg-walkers", 64, "walkers in each --pg-procs client process")
	addQuiet(cmd, &cfg.quiet)
	return cmd
}

// plotFormats are the file endings gonum/plot can draw to.
var plotFormats = []string{".svg", ".png", ".pdf", ".eps", ".jpg", ".jpeg", ".tif", ".tiff"}

// checkBenchOutputs checks the --csv, --plot and --dir paths before a run
// that may take minutes.
func checkBenchOutputs(cfg benchConfig) error {
	for _, p := range []string{cfg.csvPath, cfg.plotPath} {
		if p == "" {
			continue
		}
		if err := checkOutput(p, cfg.force); err != nil {
			return usageError("bench: %v", err)
		}
	}
	if cfg.plotPath != "" && !slices.Contains(plotFormats, strings.ToLower(filepath.Ext(cfg.plotPath))) {
		return usageError("bench: --plot %s: unknown format (use one of %s)", cfg.plotPath, strings.Join(plotFormats, " "))
	}
	if cfg.dir != "" {
		if fi, err := os.Stat(cfg.dir); err != nil || !fi.IsDir() {
			return usageError("bench: --dir %s is not a directory", cfg.dir)
		}
	}
	return nil
}

// parseInts parses a list flag's integers, each >= min; "1e6" and "10^6"
// are accepted too.
func parseInts(flag string, s []string, min int) ([]int, error) {
	var out []int
	for _, p := range s {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
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
	bar := newBar(stderr, int64(len(all)*len(cfg.walkers)+hubSeries*len(cfg.hubSizes)), cfg.quiet || cfg.asJSON, "bench")
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
	if cfg.pgDSN != "" && cfg.pgProcs > 0 {
		bar.Describe(fmt.Sprintf("postgres %d processes x %d walkers", cfg.pgProcs, cfg.pgWalkers))
		pts, err := benchPGProcs(ctx, cfg)
		if err != nil {
			return fail(fmt.Errorf("bench postgres processes: %w", err))
		}
		out.PGProcs = pts
	}
	_ = bar.Finish()

	if cfg.csvPath != "" {
		if err := writeBenchCSV(cfg.csvPath, out); err != nil {
			return fail(err)
		}
	}
	if cfg.plotPath != "" {
		if err := plotBench(cfg.plotPath, out); err != nil {
			return fail(err)
		}
	}
	if cfg.asJSON {
		return writeJSON(stdout, out)
	}
	printBench(stdout, out)
	printPGProcs(stdout, out.PGProcs)
	return nil
}
