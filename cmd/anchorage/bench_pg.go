package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/internal/pgcompare"
	"github.com/anchorage-db/anchorage/tiered"
)

// envPGClient makes the anchorage binary a bench client process (see
// pgClientMain) instead of the command line; its value is the client's
// JSON-encoded pgClientJob.
const envPGClient = "ANCHORAGE_BENCH_PG_CLIENT"

func init() {
	if job := os.Getenv(envPGClient); job != "" {
		os.Exit(pgClientMain(job, os.Stdout))
	}
}

// Scenarios of the multi-process postgres points.
const (
	pgDisjoint = "disjoint" // each walker adds edges to a user root of its own
	pgShared   = "shared"   // every walker of every process adds edges to one hot root
	pgBare     = "bare"     // one bare pgx INSERT per commit, no Anchorage
)

// pgProcPoint is one multi-process postgres point: procs client processes,
// each with walkers walkers, for the bench's duration.
type pgProcPoint struct {
	Scenario      string  `json:"scenario"`
	Design        string  `json:"design"` // "row-locks" (this build), "store-wide-lock" (before issue 12), "bare-insert"
	Procs         int     `json:"procs"`
	Walkers       int     `json:"walkers_per_proc"`
	Commits       int64   `json:"commits"`
	Errors        int64   `json:"errors"`
	EdgesLost     int64   `json:"edges_lost"`
	Seconds       float64 `json:"seconds"`
	CommitsPerSec float64 `json:"commits_per_sec"`
}

// pgClientJob is what one client process runs.
type pgClientJob struct {
	DSN, Schema string
	StoreWide   bool
	Roots       []anchor.ID // one per walker, or one for all; none for bare inserts
	Walkers     int
	Start       time.Time
	Duration    time.Duration
}

// pgClientResult is a client process's answer, one JSON line on stdout.
type pgClientResult struct{ Commits, Errors int64 }

// benchPGProcs runs the multi-process points: disjoint roots and one shared
// root with this build's design and with the store-wide lock of the
// previous one, and bare inserts, all on the same server in the same run.
func benchPGProcs(ctx context.Context, cfg benchConfig) ([]pgProcPoint, error) {
	var out []pgProcPoint
	for _, sc := range []struct {
		scenario  string
		storeWide bool
	}{{pgBare, false}, {pgDisjoint, false}, {pgDisjoint, true}, {pgShared, false}, {pgShared, true}} {
		p, err := benchPGPoint(ctx, cfg, sc.scenario, sc.storeWide)
		if err != nil {
			return out, fmt.Errorf("%s: %w", sc.scenario, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func benchPGPoint(ctx context.Context, cfg benchConfig, scenario string, storeWide bool) (pgProcPoint, error) {
	p := pgProcPoint{Scenario: scenario, Design: "row-locks", Procs: cfg.pgProcs, Walkers: cfg.pgWalkers}
	if storeWide {
		p.Design = "store-wide-lock"
	}
	schema := "anchorage_bench_" + strings.ReplaceAll(anchor.NewID().String(), "-", "")
	job := pgClientJob{DSN: cfg.pgDSN, Schema: schema, StoreWide: storeWide, Walkers: cfg.pgWalkers, Duration: cfg.duration}
	var s backend.Store
	if scenario == pgBare {
		p.Design = "bare-insert"
		pool, err := pgxpool.New(ctx, cfg.pgDSN)
		if err != nil {
			return p, err
		}
		_, err = pool.Exec(ctx, `CREATE SCHEMA `+schema+`; CREATE TABLE `+schema+`.bare (id bigserial PRIMARY KEY, v bytea)`)
		defer pool.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`) //nolint:errcheck // best effort
		defer pool.Close()
		if err != nil {
			return p, err
		}
	} else {
		var err error
		if s, err = postgres.Open(cfg.pgDSN, &postgres.Options{Schema: schema}); err != nil {
			return p, err
		}
		defer postgres.Drop(cfg.pgDSN, schema) //nolint:errcheck // best effort: the point's result stands
		defer s.Close()
		roots := 1
		if scenario == pgDisjoint {
			roots = cfg.pgProcs * cfg.pgWalkers
		}
		for range roots {
			r, err := tiered.CreateRoot(ctx, s, map[string]any{"name": "bench-user"})
			if err != nil {
				return p, err
			}
			job.Roots = append(job.Roots, r)
		}
	}
	job.Start = time.Now().Add(time.Second) // every client has connected by then
	res, err := runPGClients(ctx, job, cfg.pgProcs)
	if err != nil {
		return p, err
	}
	p.Seconds = cfg.duration.Seconds()
	for _, r := range res {
		p.Commits += r.Commits
		p.Errors += r.Errors
	}
	p.CommitsPerSec = float64(p.Commits) / p.Seconds
	if s != nil {
		edges := 0
		for _, r := range job.Roots {
			n, err := countEdges(ctx, s, r)
			if err != nil {
				return p, err
			}
			edges += n
		}
		p.EdgesLost = p.Commits - int64(edges)
	}
	return p, nil
}

// runPGClients runs procs client processes of this binary on job and
// returns their results.
func runPGClients(ctx context.Context, job pgClientJob, procs int) ([]pgClientResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	results := make([]pgClientResult, procs)
	errs := make([]error, procs)
	var wg sync.WaitGroup
	for i := range procs {
		j := job
		if len(job.Roots) > 1 {
			j.Roots = job.Roots[i*job.Walkers : (i+1)*job.Walkers]
		}
		enc, err := json.Marshal(j)
		if err != nil {
			return nil, err
		}
		wg.Go(func() {
			cmd := exec.CommandContext(ctx, self)
			cmd.Env = append(os.Environ(), envPGClient+"="+string(enc))
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err == nil {
				err = json.Unmarshal(out, &results[i])
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("client process: %w", err)
		}
	}
	return results, nil
}

// pgClientMain is a client process: its walkers commit from job.Start for
// job.Duration, then it prints its counts. It returns the exit code.
func pgClientMain(enc string, stdout io.Writer) int {
	var job pgClientJob
	if err := json.Unmarshal([]byte(enc), &job); err != nil {
		fmt.Fprintln(os.Stderr, "bench client:", err)
		return 2
	}
	ctx := context.Background()
	var op func(w int) error
	if len(job.Roots) == 0 {
		pool, err := pgxpool.New(ctx, job.DSN+fmt.Sprintf(" pool_max_conns=%d", job.Walkers))
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench client:", err)
			return 1
		}
		defer pool.Close()
		op = func(int) error {
			_, err := pool.Exec(ctx, `INSERT INTO `+job.Schema+`.bare (v) VALUES ($1)`, anchor.NewID().String())
			return err
		}
	} else {
		pgcompare.StoreWideLock.Store(job.StoreWide)
		s, err := postgres.Open(job.DSN, &postgres.Options{Schema: job.Schema})
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench client:", err)
			return 1
		}
		defer s.Close()
		op = func(w int) error { return addEdge(ctx, s, job.Roots[w%len(job.Roots)], "Post") }
	}
	var commits, errs atomic.Int64
	deadline := job.Start.Add(job.Duration)
	var wg sync.WaitGroup
	for w := range job.Walkers {
		wg.Go(func() {
			time.Sleep(time.Until(job.Start))
			for time.Now().Before(deadline) {
				if op(w) != nil {
					errs.Add(1)
					continue
				}
				commits.Add(1)
			}
		})
	}
	wg.Wait()
	json.NewEncoder(stdout).Encode(pgClientResult{Commits: commits.Load(), Errors: errs.Load()}) //nolint:errcheck // the parent reports a bad answer
	return 0
}

// printPGProcs prints the multi-process points, each against bare inserts.
func printPGProcs(w io.Writer, pts []pgProcPoint) {
	if len(pts) == 0 {
		return
	}
	var bare float64
	for _, p := range pts {
		if p.Scenario == pgBare {
			bare = p.CommitsPerSec
		}
	}
	fmt.Fprintf(w, "\npostgres, %d client processes x %d walkers:\n", pts[0].Procs, pts[0].Walkers)
	fmt.Fprintf(w, "%-9s %-16s %9s %7s %6s %10s %8s\n", "scenario", "design", "commits", "errors", "lost", "commits/s", "vs bare")
	for _, p := range pts {
		rel := "-"
		if bare > 0 {
			rel = fmt.Sprintf("%.0f%%", 100*p.CommitsPerSec/bare)
		}
		fmt.Fprintf(w, "%-9s %-16s %9d %7d %6d %10.0f %8s\n", p.Scenario, p.Design, p.Commits, p.Errors, p.EdgesLost, p.CommitsPerSec, rel)
	}
}
