package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/backend"
)

type verifyJSON struct {
	Clean      bool          `json:"clean"`
	Anchors    int           `json:"anchors"`
	Tombstones int           `json:"tombstones"`
	Edges      int           `json:"edges"`
	Adjacency  int           `json:"adjacency"`
	LogEntries int           `json:"log_entries"`
	Problems   []problemJSON `json:"problems"`
}

type problemJSON struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Detail string `json:"detail"`
}

func newVerifyJSON(r *backend.Report) *verifyJSON {
	out := &verifyJSON{Clean: r.Clean(), Anchors: r.Anchors, Tombstones: r.Tombstones, Edges: r.Edges,
		Adjacency: r.Adjacency, LogEntries: r.LogEntries, Problems: []problemJSON{}}
	for _, p := range r.Problems {
		out.Problems = append(out.Problems, problemJSON{Kind: p.Kind, ID: p.ID.String(), Detail: p.Detail})
	}
	return out
}

func verifySummary(r *backend.Report) string {
	state := "clean"
	if !r.Clean() {
		state = strings.ToUpper(plural(len(r.Problems), "problem"))
	}
	return fmt.Sprintf("%s (%s, %s, %s, %s, %s)", state, plural(r.Anchors, "anchor"), plural(r.Tombstones, "tombstone"),
		plural(r.Edges, "live edge"), plural(r.Adjacency, "adjacency row"), plural(r.LogEntries, "log entry"))
}

func newVerifyCmd() *cobra.Command {
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:   "verify --db PATH",
		Short: "Check a store's integrity (exit 0 clean, 1 with a report of each problem)",
		Long: `verify walks the whole store in one consistent read-only snapshot and
reports every inconsistency: corrupt records, adjacency rows without a live
edge or disagreeing with it, live edges without both adjacency rows, edges to
missing, deleted or non-node endpoints, change-log entries pointing nowhere
or duplicated, and anchors missing from the change log.

Exit status: 0 if the store is clean, 1 if any problem was found (each one
is listed), 2 if the store could not be opened (bad path, not a store, a
newer version).`,
		Example: `  anchorage verify --db graph.db
  anchorage verify --db graph.db --json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := openReadOnly(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			// Verify reports no progress: a spinner with the elapsed time.
			bar := newBar(cmd.ErrOrStderr(), -1, quiet || asJSON, "verify: checking every anchor, edge and log entry")
			stop := ticking(bar, 200*time.Millisecond)
			r, err := backend.Verify(ctxOf(cmd), s)
			stop()
			_ = bar.Finish()
			if err != nil {
				return fail(err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(w, newVerifyJSON(r)); err != nil {
					return err
				}
			} else {
				fmt.Fprintln(w, verifySummary(r))
				for _, p := range r.Problems {
					fmt.Fprintf(w, "  %s\n", articles(p.String()))
				}
			}
			if !r.Clean() {
				return checkFailed("verify: %s found", plural(len(r.Problems), "problem"))
			}
			return nil
		},
	}
	addStoreFlags(cmd, "the store to check")
	addJSON(cmd, &asJSON, "the report")
	addQuiet(cmd, &quiet)
	return cmd
}
