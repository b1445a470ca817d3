package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/replica"
)

// ---- export ----

type exportJSON struct {
	File     string `json:"file"`
	ExportID string `json:"export_id"`
	Source   string `json:"source_store"`
	After    uint64 `json:"after_seq"`
	Through  uint64 `json:"through_seq"`
	Chunks   int    `json:"chunks"`
	Records  int    `json:"records"`
}

func newExportCmd() *cobra.Command {
	var (
		out           string
		after         uint64
		chunk         int
		asJSON, quiet bool
	)
	cmd := &cobra.Command{
		Use:   "export --db PATH --out FILE",
		Short: "Write a store's changes (since --after) to a checksummed export file",
		Long: `export reads the store read-only, in one consistent snapshot, and writes
every anchor changed after change-log sequence --after (0: everything) to
FILE: a versioned header, chunks of anchor records, and a trailer, each
section with its own checksum. The file is written under a temporary name
and renamed into place once complete, so FILE is never half-written.`,
		Example: `  anchorage export --db graph.db --out graph.anchx
  anchorage export --db graph.db --out delta.anchx --after 1200`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError("export: no output file given (use --out FILE)")
			}
			s, _, err := openReadOnly(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
			if err != nil {
				return fail(err)
			}
			defer os.Remove(tmp.Name())
			bar := newBar(cmd.ErrOrStderr(), -1, quiet, "export")
			res, err := replica.Export(ctxOf(cmd), s, tmp, &replica.ExportOptions{After: after, ChunkRecords: chunk,
				Progress: func(p replica.Progress) { bar.ChangeMax(p.Total); bar.Set(p.Records) }})
			bar.Finish()
			if err == nil {
				err = tmp.Sync()
			}
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(tmp.Name(), out)
			}
			if err != nil {
				return fail(err)
			}
			j := exportJSON{File: out, ExportID: res.Header.ExportID.String(), Source: res.Header.SourceStore.String(),
				After: res.Header.After, Through: res.Header.Through, Chunks: res.Chunks, Records: res.Records}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), j)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "exported %d anchors in %d chunks (changes after seq %d through %d) to %s\n",
				j.Records, j.Chunks, j.After, j.Through, j.File)
			return nil
		},
	}
	addStoreFlags(cmd)
	f := cmd.Flags()
	f.StringVarP(&out, "out", "o", "", "the export file to write")
	f.Uint64Var(&after, "after", 0, "export the changes after this change-log sequence number")
	f.IntVar(&chunk, "chunk", 1000, "anchors per chunk")
	f.BoolVar(&asJSON, "json", false, "print the result as JSON")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

// ---- import ----

type countsJSON struct {
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Skipped   int `json:"skipped"`
	Conflicts int `json:"conflicts"`
	Refused   int `json:"refused"`
}

type refusalJSON struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
}

type importJSON struct {
	ExportID string                `json:"export_id"`
	Source   string                `json:"source_store"`
	Chunks   int                   `json:"chunks_applied"`
	Resumed  int                   `json:"chunks_already_applied"`
	Records  int                   `json:"records"`
	ByKind   map[string]countsJSON `json:"by_kind"`
	Total    countsJSON            `json:"total"`
	Refusals []refusalJSON         `json:"refusals"`
}

func newImportJSON(res *replica.ImportResult) importJSON {
	conv := func(c delta.Counts) countsJSON {
		return countsJSON{c.Inserted, c.Updated, c.Skipped, c.Conflicts, c.Refused}
	}
	j := importJSON{ExportID: res.Header.ExportID.String(), Source: res.Header.SourceStore.String(),
		Chunks: res.Chunks, Resumed: res.Skipped, Records: res.Records,
		ByKind: map[string]countsJSON{}, Total: conv(res.Stats.Total()), Refusals: []refusalJSON{}}
	for _, k := range []anchor.Kind{anchor.KindNode, anchor.KindEdge, anchor.KindWalker, anchor.KindObject} {
		j.ByKind[k.String()] = conv(res.Stats.ByKind[k])
	}
	for _, r := range res.Stats.Refusals {
		j.Refusals = append(j.Refusals, refusalJSON{r.ID.String(), r.Reason})
	}
	return j
}

func printImport(w io.Writer, j importJSON) {
	fmt.Fprintf(w, "applied %d chunks (%d records) of export %s from store %s", j.Chunks, j.Records, j.ExportID, j.Source)
	if j.Resumed > 0 {
		fmt.Fprintf(w, "; %d chunks were already applied", j.Resumed)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  %-7s %9s %8s %8s %10s %8s\n", "kind", "inserted", "updated", "skipped", "conflicts", "refused")
	for _, k := range []string{"node", "edge", "walker", "object"} {
		c := j.ByKind[k]
		fmt.Fprintf(w, "  %-7s %9d %8d %8d %10d %8d\n", k, c.Inserted, c.Updated, c.Skipped, c.Conflicts, c.Refused)
	}
	for _, r := range j.Refusals {
		fmt.Fprintf(w, "  refused %s: %s\n", r.ID, r.Reason)
	}
}

// openWritable opens (creating if needed) the store of --db/--backend for
// writing. For auto, an existing file tells its backend; a new one is bolt.
func openWritable(cmd *cobra.Command, dbFlag, backendFlag string) (backend.Store, error) {
	path, _ := cmd.Flags().GetString(dbFlag)
	name, _ := cmd.Flags().GetString(backendFlag)
	schema, _ := cmd.Flags().GetString("schema")
	if name == autoBackend {
		name = detectBackend(path)
	}
	if path == "" {
		return nil, usageError("no store given (use --%s)", dbFlag)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, usageError("open %s: %v (it is a directory)", path, anchor.ErrNotStore)
	}
	s, err := openStore(name, path, storeOptions{Schema: schema})
	return s, fail(err)
}

func newImportCmd() *cobra.Command {
	var (
		asJSON, quiet bool
		maxSkew       time.Duration
	)
	cmd := &cobra.Command{
		Use:   "import FILE --db PATH",
		Short: "Merge an export file into a store (created if missing)",
		Long: `import checks the whole export file first (every checksum, every record)
and refuses a damaged file, or one of a newer format, without touching the
store. It then merges the file chunk by chunk, each chunk in one transaction
together with the store's import cursor: fields by last-writer-wins on
(HLC, replica), deletions winning over liveness, stamps more than
--max-skew ahead of this machine's clock refused and listed. Re-importing
the same file changes nothing; an import that was interrupted resumes
after its last applied chunk. The counters come per kind: inserted,
updated, skipped (nothing newer), conflicts (a remote value or liveness
lost to newer local state), refused.`,
		Example: `  anchorage import graph.anchx --db replica.db
  anchorage import graph.anchx --db replica.db --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return fail(fmt.Errorf("anchorage: import: %w", err))
			}
			defer f.Close()
			if _, err := replica.Check(f); err != nil {
				return fail(fmt.Errorf("anchorage: import %s: %w", args[0], err))
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return fail(err)
			}
			s, err := openWritable(cmd, "db", "backend")
			if err != nil {
				return err
			}
			defer s.Close()
			bar := newBar(cmd.ErrOrStderr(), -1, quiet, "import")
			res, err := replica.Import(ctxOf(cmd), s, f, &replica.ImportOptions{MaxSkew: maxSkew,
				Progress: func(p replica.Progress) { bar.Set(p.Records) }})
			bar.Finish()
			if err != nil {
				return fail(err)
			}
			j := newImportJSON(res)
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), j)
			}
			printImport(cmd.OutOrStdout(), j)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("db", "", "path of the store to import into (postgres: a connection string)")
	f.String("backend", autoBackend, "storage backend: "+joinList(allBackends())+`, or "auto" (an existing file tells; a new one is bolt)`)
	f.String("schema", "anchorage", "postgres: the schema holding the store")
	_ = cmd.MarkFlagRequired("db")
	f.DurationVar(&maxSkew, "max-skew", time.Minute, "refuse records stamped further than this ahead of this machine's clock")
	f.BoolVar(&asJSON, "json", false, "print the counters as JSON")
	f.BoolVarP(&quiet, "quiet", "q", false, "no progress bar")
	return cmd
}

// ---- sync ----

func newSyncCmd() *cobra.Command {
	var (
		asJSON  bool
		maxSkew time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sync --from PATH --to PATH",
		Short: "Bring one store up to date with another (one way; run both ways to converge)",
		Long: `sync exports from the --from store (read-only) every change after the
--to store's import cursor for it and imports them into --to, streaming,
with import's merge rules and counters. Run it both ways for two replicas
to converge; a sync with nothing new changes nothing.`,
		Example: `  anchorage sync --from a.db --to b.db
  anchorage sync --from b.db --to a.db`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, _ := cmd.Flags().GetString("from")
			fromBackend, _ := cmd.Flags().GetString("from-backend")
			schema, _ := cmd.Flags().GetString("schema")
			if fromBackend == autoBackend {
				fromBackend = detectBackend(from)
			}
			if from == "" {
				return usageError("sync: no source store given (use --from)")
			}
			if _, err := os.Stat(from); err != nil && !slices.Contains(serverBackends(), fromBackend) {
				return fail(fmt.Errorf("anchorage: sync: no store at %s: %w", from, fs.ErrNotExist))
			}
			src, err := openStore(fromBackend, from, storeOptions{ReadOnly: true, Schema: schema})
			if err != nil {
				return fail(err)
			}
			defer src.Close()
			dst, err := openWritable(cmd, "to", "to-backend")
			if err != nil {
				return err
			}
			defer dst.Close()
			res, err := replica.Sync(ctxOf(cmd), src, dst, &replica.ImportOptions{MaxSkew: maxSkew})
			if err != nil {
				return fail(err)
			}
			j := newImportJSON(res.Import)
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), j)
			}
			printImport(cmd.OutOrStdout(), j)
			return nil
		},
	}
	f := cmd.Flags()
	f.String("from", "", "the store to read changes from")
	f.String("to", "", "the store to bring up to date (created if missing)")
	f.String("from-backend", autoBackend, "backend of --from: "+joinList(allBackends())+`, or "auto"`)
	f.String("to-backend", autoBackend, "backend of --to: "+joinList(allBackends())+`, or "auto"`)
	f.String("schema", "anchorage", "postgres: the schema holding the stores")
	f.DurationVar(&maxSkew, "max-skew", time.Minute, "refuse records stamped further than this ahead of this machine's clock")
	f.BoolVar(&asJSON, "json", false, "print the counters as JSON")
	return cmd
}
