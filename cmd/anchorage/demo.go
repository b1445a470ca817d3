package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/internal/naive"
	"github.com/anchorage-db/anchorage/tiered"
)

type demoConfig struct {
	walkers, edges int
	db, backend    string
	store          storeOptions // --schema, --timeout, --no-sync
	noSync, quiet  bool
	asJSON         bool
}

// demoResult is one strategy's row of the demo table.
type demoResult struct {
	Strategy      string  `json:"strategy"`
	Walkers       int     `json:"walkers"` // edge-adding walkers; one cascade-save walker runs besides them
	Commits       int64   `json:"commits"`
	EdgesExpected int     `json:"edges_expected"`
	EdgesStored   int     `json:"edges_stored"`
	EdgesLost     int     `json:"edges_lost"`
	Seconds       float64 `json:"seconds"`
	CommitsPerSec float64 `json:"commits_per_sec"`
	// The cascade-save walker's last "visits" value, and what is stored.
	VisitsExpected int    `json:"visits_expected"`
	VisitsStored   int    `json:"visits_stored"`
	Errors         int64  `json:"errors"`
	LastError      string `json:"last_error,omitempty"`
}

type demoOutput struct {
	Backend string       `json:"backend"`
	DB      string       `json:"db"`
	Root    string       `json:"root"` // the user root node in the anchorage store
	Results []demoResult `json:"results"`
	Verify  *verifyJSON  `json:"verify"`
}

func newDemoCmd() *cobra.Command {
	var cfg demoConfig
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Reproduce the lost-edge bug with a naive writer, then show Anchorage losing nothing",
		Long: `demo runs the scenario of the real bug twice: once through a naive
whole-document writer (every write stores the walker's cached copy of the
whole node, edge list included) and once through Anchorage.

--walkers walkers each load the user's root node, wait at a barrier so all
of them hold the same (soon stale) copy, then each adds --edges edges to the
root, one commit per edge. Meanwhile a cascade-save walker, which also loaded
the root before the barrier, repeatedly sets a field on its stale copy and
Puts it, and creates message nodes by Putting new edges from the root.

The table shows, per strategy, the edges that should be on the root, the
edges actually stored, and how many were lost. The naive writer loses edges
on every run; Anchorage must lose none, and the command exits 1 if it does.

The Anchorage store is kept at --db if given (and can then be inspected with
stats, get, edges, dot and verify), else in a temporary directory.`,
		Example: `  anchorage demo
  anchorage demo --walkers 64 --edges 100
  anchorage demo --db /tmp/demo.db && anchorage stats --db /tmp/demo.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cfg.walkers < 1 || cfg.edges < 1 {
				return usageError("demo: --walkers and --edges must be at least 1")
			}
			_, cfg.backend, cfg.store = storeFlags(cmd, "db", "backend")
			cfg.store.NoSync = cfg.noSync
			return runDemo(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.walkers, "walkers", 32, "concurrent walkers adding edges to the root")
	f.IntVar(&cfg.edges, "edges", 50, "edges each walker adds (one commit each)")
	f.StringVar(&cfg.db, "db", "", "keep the Anchorage store at this path (default: a temporary directory; postgres: a connection string, required)")
	addBackendFlag(cmd, "backend", "--db (without --db: bolt)")
	addSchemaTimeout(cmd, "anchorage_demo")
	addNoSync(cmd, &cfg.noSync, "skip fsync on commit (both strategies)")
	addQuiet(cmd, &cfg.quiet)
	addJSON(cmd, &cfg.asJSON, "the results")
	return cmd
}

func runDemo(ctx context.Context, cfg demoConfig, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	tmp, err := os.MkdirTemp("", "anchorage-demo-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(tmp)
	dbPath := cfg.db
	if dbPath == "" {
		if slices.Contains(serverBackends(), cfg.backend) {
			return usageError("demo: --backend %s needs --db CONNECTION-STRING", cfg.backend)
		}
		dbPath = filepath.Join(tmp, "anchorage.db")
	}
	cfg.backend, _ = resolveBackend(cfg.backend, dbPath)
	store, err := openStore(cfg.backend, dbPath, cfg.store)
	if err != nil {
		return fail(err)
	}
	defer store.Close()
	nv, err := naive.Open(filepath.Join(tmp, "naive.db"), cfg.noSync)
	if err != nil {
		return fail(err)
	}
	defer nv.Close()

	total := int64(2 * (cfg.walkers*cfg.edges + 2*cfg.edges))
	bar := newBar(stderr, total, cfg.quiet || cfg.asJSON, "demo")
	naiveRes, err := demoNaive(nv, cfg, bar)
	if err != nil {
		return fail(err)
	}
	ancRes, root, err := demoAnchorage(ctx, store, cfg, bar)
	if err != nil {
		return fail(err)
	}
	_ = bar.Finish()
	if showProgress(stderr, cfg.quiet, cfg.asJSON) {
		fmt.Fprintln(stderr)
	}
	report, err := backend.Verify(ctx, store)
	if err != nil {
		return fail(err)
	}

	out := demoOutput{Backend: cfg.backend, DB: cfg.db, Root: root.String(),
		Results: []demoResult{naiveRes, ancRes}, Verify: newVerifyJSON(report)}
	if cfg.asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return fail(err)
		}
	} else {
		printDemo(stdout, cfg, out, report)
	}
	switch {
	case ancRes.Errors != 0:
		return checkFailed("demo: %d anchorage commits failed, last: %s", ancRes.Errors, ancRes.LastError)
	case ancRes.EdgesLost != 0 || ancRes.VisitsStored != ancRes.VisitsExpected:
		return checkFailed("demo: anchorage lost %d edges (visits stored %d, want %d)", ancRes.EdgesLost, ancRes.VisitsStored, ancRes.VisitsExpected)
	case !report.Clean():
		return checkFailed("demo: the anchorage store failed verification with %d problems", len(report.Problems))
	}
	return nil
}

func printDemo(w io.Writer, cfg demoConfig, out demoOutput, report *backend.Report) {
	fmt.Fprintf(w, "%d walkers x %d edges on one user root, plus 1 cascade-save walker (%d edges), backend %s, fsync %s\n\n",
		cfg.walkers, cfg.edges, cfg.edges, cfg.backend, onOff(!cfg.noSync))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "strategy\twalkers\tcommits\tedges expected\tedges stored\tedges lost\tcommits/s\t")
	for _, r := range out.Results {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.0f\t\n", r.Strategy, r.Walkers, r.Commits,
			r.EdgesExpected, r.EdgesStored, r.EdgesLost, r.CommitsPerSec)
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, r := range out.Results {
		fmt.Fprintf(w, "%-10s cascade walker's field \"visits\": stored %d, last written %d\n", r.Strategy+":", r.VisitsStored, r.VisitsExpected)
	}
	fmt.Fprintf(w, "anchorage verify: %s\n", verifySummary(report))
	if cfg.db != "" {
		fmt.Fprintf(w, "\nuser root %s is in %s; try:\n  anchorage edges %s --db %s\n  anchorage dot %s --db %s\n",
			out.Root, cfg.db, out.Root, cfg.db, out.Root, cfg.db)
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// demoNaive runs the scenario through the whole-document writer.
func demoNaive(s *naive.Store, cfg demoConfig, bar *progressbar.ProgressBar) (demoResult, error) {
	root := anchor.NewID()
	setup := s.NewWalker()
	if err := setup.Set(root, "name", "demo-user"); err != nil {
		return demoResult{}, err
	}
	if err := setup.Commit(); err != nil {
		return demoResult{}, err
	}
	tally := &commitTally{bar: bar}
	note := tally.note
	// Every walker loads the root before the barrier: all hold the same copy.
	walkers := make([]*naive.Walker, cfg.walkers)
	for i := range walkers {
		walkers[i] = s.NewWalker()
		if _, err := walkers[i].Load(root); err != nil {
			return demoResult{}, err
		}
	}
	cascade := s.NewWalker()
	if _, err := cascade.Load(root); err != nil {
		return demoResult{}, err
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, w := range walkers {
		wg.Go(func() {
			<-start
			for j := range cfg.edges {
				post := anchor.NewID()
				if _, err := w.Connect(root, post); err != nil {
					note(err)
					continue
				}
				if err := w.Set(post, "n", i*cfg.edges+j); err != nil {
					note(err)
					continue
				}
				note(w.Commit())
			}
		})
	}
	wg.Go(func() {
		<-start
		for j := range cfg.edges {
			// Cascade save of the stale root with one field changed.
			if err := cascade.Set(root, "visits", j+1); err != nil {
				note(err)
				continue
			}
			note(cascade.Put(root))
			// A new message node, saved by Putting the new edge: both
			// endpoint documents are written whole.
			msg := anchor.NewID()
			if _, err := cascade.Connect(root, msg); err != nil {
				note(err)
				continue
			}
			err := cascade.Put(msg)
			if err == nil {
				err = cascade.Put(root)
			}
			note(err)
		}
	})
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	if tally.errs.Load() != 0 {
		return demoResult{}, fmt.Errorf("naive: %d writes failed, last: %v", tally.errs.Load(), tally.lastErr())
	}
	stored, err := s.Edges(root)
	if err != nil {
		return demoResult{}, err
	}
	doc, err := s.Doc(root)
	if err != nil {
		return demoResult{}, err
	}
	r := demoResult{Strategy: "naive", Walkers: cfg.walkers, Commits: tally.commits.Load(),
		EdgesExpected: cfg.walkers*cfg.edges + cfg.edges, EdgesStored: stored,
		Seconds: elapsed.Seconds(), VisitsExpected: cfg.edges, VisitsStored: toInt(doc.Fields["visits"])}
	r.EdgesLost = r.EdgesExpected - r.EdgesStored
	r.CommitsPerSec = float64(r.Commits) / elapsed.Seconds()
	return r, nil
}

// toInt converts a msgpack-decoded integer of any width to int (0 if absent).
func toInt(v any) int {
	switch n := v.(type) {
	case int8:
		return int(n)
	case int16:
		return int(n)
	case int32:
		return int(n)
	case int64:
		return int(n)
	case int:
		return n
	case uint8:
		return int(n)
	case uint16:
		return int(n)
	case uint32:
		return int(n)
	case uint64:
		return int(n)
	}
	return 0
}

// commitTally counts one strategy's commits and failures and moves the
// progress bar; its note is safe to call from every walker at once.
type commitTally struct {
	commits, errs atomic.Int64
	last          atomic.Value // error
	bar           *progressbar.ProgressBar
}

func (c *commitTally) note(err error) {
	if err != nil {
		c.errs.Add(1)
		c.last.Store(err)
		return
	}
	c.commits.Add(1)
	_ = c.bar.Add(1)
}

// lastErr returns the last failure noted, or nil.
func (c *commitTally) lastErr() error {
	e, _ := c.last.Load().(error)
	return e
}

// demoAnchorage runs the same scenario through tiered.Memory walkers.
func demoAnchorage(ctx context.Context, s backend.Store, cfg demoConfig, bar *progressbar.ProgressBar) (demoResult, anchor.ID, error) {
	root, err := tiered.CreateRoot(ctx, s, map[string]any{"name": "demo-user"})
	if err != nil {
		return demoResult{}, root, err
	}
	tally := &commitTally{bar: bar}
	note := tally.note
	walkers := make([]*tiered.Memory, cfg.walkers)
	for i := range walkers {
		walkers[i] = tiered.New(s, root, nil)
		if _, err := walkers[i].Get(ctx, root); err != nil {
			return demoResult{}, root, err
		}
	}
	cascade := tiered.New(s, root, nil)
	if _, err := cascade.Get(ctx, root); err != nil {
		return demoResult{}, root, err
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, w := range walkers {
		wg.Go(func() {
			<-start
			for j := range cfg.edges {
				post, err := w.Create(anchor.KindNode, "Post", map[string]any{"n": i*cfg.edges + j})
				if err != nil {
					note(err)
					continue
				}
				if _, err := w.Connect(ctx, root, post, "Posted", nil); err != nil {
					note(err)
					continue
				}
				note(w.Commit(ctx))
			}
		})
	}
	wg.Go(func() {
		<-start
		for j := range cfg.edges {
			if err := cascade.Set(ctx, root, "visits", j+1); err != nil {
				note(err)
				continue
			}
			note(cascade.Put(ctx, root))
			msg, err := cascade.Create(anchor.KindNode, "Message", map[string]any{"n": j})
			if err != nil {
				note(err)
				continue
			}
			edge, err := cascade.Connect(ctx, root, msg, "HasMessage", nil)
			if err != nil {
				note(err)
				continue
			}
			note(cascade.Put(ctx, edge)) // writes the new message node too
		}
	})
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)

	r := demoResult{Strategy: "anchorage", Walkers: cfg.walkers, Commits: tally.commits.Load(), Errors: tally.errs.Load(),
		EdgesExpected: cfg.walkers*cfg.edges + cfg.edges, Seconds: elapsed.Seconds(), VisitsExpected: cfg.edges}
	err = s.View(ctx, func(v backend.View) error {
		if err := v.Adjacent(root, func(anchor.Adj) error { r.EdgesStored++; return nil }); err != nil {
			return err
		}
		a, err := v.Anchor(root)
		if err != nil {
			return err
		}
		var visits any // generic: any integer width decodes
		if f, ok := a.Fields["visits"]; ok && anchor.DecodeValue(f.Value, &visits) == nil {
			r.VisitsStored = toInt(visits)
		}
		return nil
	})
	if err != nil {
		return r, root, err
	}
	r.EdgesLost = r.EdgesExpected - r.EdgesStored
	r.CommitsPerSec = float64(r.Commits) / elapsed.Seconds()
	if e := tally.lastErr(); e != nil {
		r.LastError = e.Error()
	}
	return r, root, nil
}
