package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/replica"
)

type countsJSON struct {
	Inserted  int `json:"inserted"`
	Updated   int `json:"updated"`
	Skipped   int `json:"skipped"`
	Conflicts int `json:"conflicts"`
	Refused   int `json:"refused"`
	Held      int `json:"held"` // edges waiting for an endpoint that has not arrived
}

type refusalJSON struct {
	ID     string `json:"id"`
	Reason string `json:"reason"`
	Later  bool   `json:"delivered_later"` // refused for now: a later import or sync applies it
}

type importJSON struct {
	ExportID string                `json:"export_id"`
	Source   string                `json:"source_store"`
	Chunks   int                   `json:"chunks_applied"`
	Resumed  int                   `json:"chunks_already_applied"`
	Records  int                   `json:"records"`
	Later    int                   `json:"refused_for_now"`
	AheadMS  int64                 `json:"source_clock_ahead_ms"`
	ByKind   map[string]countsJSON `json:"by_kind"`
	Total    countsJSON            `json:"total"`
	Refusals []refusalJSON         `json:"refusals"`
}

func newImportJSON(res *replica.ImportResult) importJSON {
	conv := func(c delta.Counts) countsJSON {
		return countsJSON{c.Inserted, c.Updated, c.Skipped, c.Conflicts, c.Refused, c.Held}
	}
	j := importJSON{ExportID: res.Header.ExportID.String(), Source: res.Header.SourceStore.String(),
		Chunks: res.Chunks, Resumed: res.Skipped, Records: res.Records, Later: res.Later, AheadMS: res.Ahead.Milliseconds(),
		ByKind: map[string]countsJSON{}, Total: conv(res.Stats.Total()), Refusals: []refusalJSON{}}
	for _, k := range []anchor.Kind{anchor.KindNode, anchor.KindEdge, anchor.KindWalker, anchor.KindObject} {
		j.ByKind[k.String()] = conv(res.Stats.ByKind[k])
	}
	for _, r := range res.Stats.Refusals {
		j.Refusals = append(j.Refusals, refusalJSON{r.ID.String(), r.Reason, r.Retry})
	}
	return j
}

func printImport(w io.Writer, j importJSON) {
	fmt.Fprintf(w, "applied %s (%s) of export %s from store %s", plural(j.Chunks, "chunk"), plural(j.Records, "record"), j.ExportID, j.Source)
	if j.Resumed > 0 {
		fmt.Fprintf(w, "; %s already applied", plural(j.Resumed, "chunk"))
	}
	fmt.Fprintln(w)
	if j.AheadMS > 1000 {
		fmt.Fprintf(w, "  the source's clock runs %s ahead of this machine's\n", time.Duration(j.AheadMS)*time.Millisecond)
	}
	fmt.Fprintf(w, "  %-7s %9s %8s %8s %10s %8s %5s\n", "kind", "inserted", "updated", "skipped", "conflicts", "refused", "held")
	row := func(name string, c countsJSON) {
		fmt.Fprintf(w, "  %-7s %9d %8d %8d %10d %8d %5d\n", name, c.Inserted, c.Updated, c.Skipped, c.Conflicts, c.Refused, c.Held)
	}
	for _, k := range []string{"node", "edge", "walker", "object"} {
		row(k, j.ByKind[k])
	}
	row("total", j.Total)
	for _, r := range j.Refusals {
		fmt.Fprintf(w, "  refused %s: %s\n", r.ID, r.Reason)
	}
}

// emitImport prints the counters, then fails (exit code 1) if any record
// was refused: the refusals are listed above, and those refused for now
// are delivered by a later import or sync once the clock allows them (or
// with a larger --max-skew).
func emitImport(cmd *cobra.Command, asJSON bool, res *replica.ImportResult) error {
	j := newImportJSON(res)
	if err := emit(cmd, asJSON, j, printImport); err != nil {
		return err
	}
	if n := len(j.Refusals); n > 0 {
		return checkFailed("anchorage: %s refused (%d for now: run again once the clock allows, or with a larger --max-skew)", plural(n, "record"), j.Later)
	}
	return nil
}

func newImportCmd() *cobra.Command {
	var mf mergeFlags
	cmd := &cobra.Command{
		Use:   "import FILE --db PATH (--as ROOT | --trust)",
		Short: "Merge an export file into a store (created if missing)",
		Long: `import checks the whole export file first (every checksum, every record)
and refuses a damaged file, or one of a newer format, without touching the
store. It then merges the file chunk by chunk, each chunk in one transaction
together with the store's import cursor: fields by last-writer-wins on
(HLC, replica), deletions winning over liveness, stamps more than
--max-skew ahead of this machine's clock refused for now and listed (the
import then exits 1; the store remembers them, and importing the same file
again, or syncing, once the clock allows delivers them). Re-importing the
same file changes nothing else; an import that was interrupted resumes
after its last applied chunk.

Every import says who it acts as; there is no default. With --as ROOT
every record is checked as ROOT's walker would be: a new anchor must be
owned by ROOT, changing fields, deleting or restoring needs Write,
changing access needs ownership; the rest is refused and listed. With
--trust the import is unchecked: it merges as the system root, for
replication between stores one owner controls. The counters come per kind: inserted,
updated, skipped (nothing newer), conflicts (a remote value or liveness
lost to newer local state), refused, held (edges whose endpoint has not
arrived yet: kept aside and applied by the import that brings it).`,
		Example: `  anchorage import graph.anchx --db replica.db --trust
  anchorage import shared.anchx --db mine.db --as 01a2357e-c137-754d-afd8-31ca0943f2cd
  anchorage import graph.anchx --db replica.db --trust --json`,
		Args: exactArgs("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			iopts, err := mf.options("import")
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return fail(fmt.Errorf("anchorage: import: %w", err))
			}
			defer f.Close()
			hide := mf.quiet || mf.asJSON
			var size int64 = -1
			if fi, err := f.Stat(); err == nil {
				size = fi.Size()
			}
			checkBar := newByteBar(cmd.ErrOrStderr(), size, hide, "import: checking "+args[0])
			checked, err := replica.Check(io.TeeReader(f, checkBar))
			_ = checkBar.Finish()
			if err != nil {
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
			bar := newBar(cmd.ErrOrStderr(), int64(checked.Records), hide, "import: merging")
			iopts.Progress = func(p replica.Progress) { _ = bar.Set(p.Records) }
			res, err := replica.Import(ctxOf(cmd), s, f, iopts)
			_ = bar.Finish()
			if err != nil {
				return fail(err)
			}
			return emitImport(cmd, mf.asJSON, res)
		},
	}
	addStoreFlags(cmd, "the store to import into, created if missing")
	addMergeFlags(cmd, &mf)
	return cmd
}
