package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage"
	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/replica"
)

func newSyncCmd() *cobra.Command {
	var (
		mf mergeFlags
		ff followFlags
	)
	cmd := &cobra.Command{
		Use:   "sync --from PATH --to PATH (--as ROOT | --trust) [--follow]",
		Short: "Bring one store up to date with another (one way; run both ways to converge)",
		Long: `sync exports from the --from store (read-only) every change after the
--to store's import cursor for it and imports them into --to, streaming,
with import's merge rules and counters. Run it both ways for two replicas
to converge; a sync with nothing new changes nothing. Records stamped more
than --max-skew ahead of this machine's clock are refused for now and
listed, and sync exits 1; the cursor stays before them, so a later sync
delivers them once the clock allows. Every sync says who it acts as,
--as ROOT (checked) or --trust (unchecked), as for import; there is no
default. An interrupted sync resumes after its last applied chunk; records
that came from --to and that it holds already are not sent back. A new
--to is created, as SQLite if its name ends in .sqlite, .sqlite3 or .db3,
else as bolt (or as --to-backend says).

With --follow, sync keeps running: it syncs again every --interval while
there is something new, prints a line per round that moved records or
failed (with the lag: source changes not yet applied), backs off on
errors up to --max-backoff and never drops a record, and stops on
Ctrl-C or SIGTERM. Killed at any moment, the next sync or sync --follow
resumes after the last applied chunk.

A store copied with cp shares its original's identity and cannot sync with
it. --reidentify copies such a copy (--from) into a new, empty --to store
with an identity of its own, which can then sync with the original.`,
		Example: `  anchorage sync --from a.db --to b.db --trust
  anchorage sync --from b.db --to a.db --trust
  anchorage sync --from a.db --to copy.sqlite --trust
  anchorage sync --from shared.db --to mine.db --as 01a2357e-c137-754d-afd8-31ca0943f2cd
  anchorage sync --from central.sqlite --to cache.db --trust --follow --interval 2s`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			from, fromBackend, o := storeFlags(cmd, "from", "from-backend")
			if from == "" {
				return usageError("sync: no source store given (use --from)")
			}
			to, toBackend, _ := storeFlags(cmd, "to", "to-backend")
			if err := checkDistinct(from, fromBackend, to, toBackend); err != nil {
				return err
			}
			iopts, err := mf.options("sync")
			if ff.reidentify {
				iopts, err = &replica.ImportOptions{}, nil // a copy into a new store, not a merge
			}
			if err != nil {
				return err
			}
			o.ReadOnly = true
			src, err := openStore(fromBackend, from, o)
			if err != nil {
				return fail(err)
			}
			defer src.Close()
			dst, err := openWritable(cmd, "to", "to-backend")
			if err != nil {
				return err
			}
			defer dst.Close()
			iopts.ChunkRecords = ff.chunk
			if ff.reidentify {
				if err := replica.Reidentify(ctxOf(cmd), src, dst); err != nil {
					return fail(err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "copied %s into %s, which has its own identity: use it in place of the copy\n", from, to)
				return nil
			}
			if ff.follow {
				return runFollow(cmd, src, dst, iopts, &ff, &mf)
			}
			hide := mf.quiet || mf.asJSON
			total, err := pending(ctxOf(cmd), src, dst)
			if err != nil {
				return fail(err)
			}
			bar := newBar(cmd.ErrOrStderr(), int64(total), hide, "sync")
			iopts.Progress = func(p replica.Progress) { _ = bar.Set(p.Records) }
			res, err := replica.Sync(ctxOf(cmd), src, dst, iopts)
			_ = bar.Finish()
			if err != nil {
				return fail(err)
			}
			if res.Resynced && !hide {
				fmt.Fprintln(cmd.ErrOrStderr(), "sync: the source's change log is behind this store's cursor for it (restored from a backup?): sent everything again")
			}
			return emitImport(cmd, mf.asJSON, res.Import)
		},
	}
	f := cmd.Flags()
	f.String("from", "", "the store to read changes from (a file path; postgres: a connection string)")
	f.String("to", "", "the store to bring up to date, created if missing")
	addBackendFlag(cmd, "from-backend", "--from")
	addBackendFlag(cmd, "to-backend", "--to")
	addSchemaTimeout(cmd, "anchorage")
	addMergeFlags(cmd, &mf)
	addFollowFlags(cmd, &ff)
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// checkDistinct refuses to sync a store into itself: the same file (by
// inode, whatever the path or link that names it) or the same connection
// string (sync has one --schema for both).
func checkDistinct(from, fromBackend, to, toBackend string) error {
	fb, fpath := resolveBackend(fromBackend, from)
	tb, tpath := resolveBackend(toBackend, to)
	same := false
	if fb == anchorage.Postgres || tb == anchorage.Postgres {
		same = fb == tb && fpath == tpath
	} else {
		fi, err1 := os.Stat(fpath)
		ti, err2 := os.Stat(tpath)
		switch {
		case err1 != nil && errors.Is(err1, fs.ErrNotExist):
			return fail(fmt.Errorf("anchorage: sync: no store at %s: %w", fpath, fs.ErrNotExist))
		case err1 == nil && err2 == nil:
			same = os.SameFile(fi, ti)
		}
	}
	if same {
		return usageError("sync: --from and --to are the same store (%s); sync copies changes between two stores", from)
	}
	return nil
}

// pending counts the changes src has after dst's cursor for it: what a
// sync will send (the total of its progress bar).
func pending(ctx context.Context, src, dst backend.Store) (int, error) {
	var meta backend.Meta
	n := 0
	err := src.View(ctx, func(v backend.View) error {
		meta = v.Meta()
		return nil
	})
	if err != nil {
		return 0, err
	}
	cur, _, err := replica.ReadCursor(ctx, dst, meta.StoreID)
	if err != nil {
		return 0, err
	}
	err = src.View(ctx, func(v backend.View) error {
		return v.Changes(cur.Through, func(uint64, anchor.ID) error { n++; return nil })
	})
	return n, err
}
