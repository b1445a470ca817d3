package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage"
	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/replica"
)

// The maintenance commands: purge (tombstones) and compact (the file).

type purger interface {
	backend.Store
	Purge(ctx context.Context, before anchor.HLC, opts *backend.PurgeOptions) (backend.PurgeStats, error)
}

type compacter interface {
	Compact(ctx context.Context) (backend.CompactStats, error)
}

type purgeJSON struct {
	Before     time.Time `json:"before"`
	Candidates int       `json:"candidates"`
	Purged     int       `json:"purged"`
	Kept       int       `json:"kept"`
	Chunks     int       `json:"chunks"`
	HorizonSeq uint64    `json:"horizon_seq"`
	Replicated uint64    `json:"replicated_through,omitempty"` // with --replica: their least cursor for this store
	SizeBefore int64     `json:"size_before"`
	SizeAfter  int64     `json:"size_after"`
	ElapsedMS  int64     `json:"elapsed_ms"`
}

func printPurge(w io.Writer, j purgeJSON) {
	fmt.Fprintf(w, "purged %s deleted before %s, with their log entries, in %s (%s)\n",
		plural(j.Purged, "tombstone"), j.Before.Format(time.RFC3339), plural(j.Chunks, "transaction"), time.Duration(j.ElapsedMS)*time.Millisecond)
	if j.Kept > 0 {
		fmt.Fprintf(w, "  kept %s (a node still holding edges, or changed since the scan)\n", plural(j.Kept, "tombstone"))
	}
	if j.Replicated > 0 {
		fmt.Fprintf(w, "  bounded by the replicas: every one has imported through sequence %d\n", j.Replicated)
	}
	fmt.Fprintf(w, "  purge horizon: change-log sequence %d; a replica that has not imported through it must be rebuilt\n", j.HorizonSeq)
	fmt.Fprintf(w, "  size %d -> %d bytes (run anchorage compact to give the free space back)\n", j.SizeBefore, j.SizeAfter)
}

// existing refuses a --db file that does not exist: maintenance never
// creates a store.
func existing(cmd *cobra.Command) (name, path string, err error) {
	dsn, name, _ := storeFlags(cmd, "db", "backend")
	name, path = resolveBackend(name, dsn)
	if name == anchorage.Postgres {
		return name, path, nil
	}
	if _, err := os.Stat(path); err != nil {
		return name, path, fail(fmt.Errorf("anchorage: no store at %s: %w", path, fs.ErrNotExist))
	}
	return name, path, nil
}

func newPurgeCmd() *cobra.Command {
	var olderThan time.Duration
	var beforeFlag string
	var chunk int
	var replicas []string
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:   "purge --db PATH (--older-than DURATION | --before TIME) [--replica PATH]...",
		Short: "Remove tombstones of old deletes, with their change-log entries",
		Long: `purge removes the tombstones of anchors deleted before a horizon, with
their change-log entries, in small transactions (--chunk tombstones each) so
other writers wait at most one of them. The store records its purge horizon.

Replication sends tombstones to replicas: that is how a delete reaches them.
Choose a horizon that every replica of this store has imported: a replica
that had not imported the purged deletes is refused any later partial sync
from this store (it may still hold the deleted anchors) and must be rebuilt
as a new store with a full sync. There is no default horizon: give
--older-than or --before. With --replica (each replica of this store,
repeated), purge also reads each replica's import cursor for this store
and removes only tombstones every one of them has imported, so none is
refused a later sync; a replica that never imported from it stops the
purge.

The freed space stays in the file for reuse; anchorage compact gives it back.`,
		Example: `  anchorage purge --db graph.db --older-than 720h
  anchorage purge --db graph.db --before 2026-01-01T00:00:00Z --json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var before time.Time
			switch {
			case (olderThan != 0) == (beforeFlag != ""):
				return usageError("purge: give exactly one of --older-than and --before (there is no default horizon)")
			case olderThan < 0:
				return usageError("purge: --older-than %s is negative", olderThan)
			case olderThan > 0:
				before = time.Now().Add(-olderThan)
			default:
				t, err := time.Parse(time.RFC3339, beforeFlag)
				if err != nil {
					return usageError("purge: --before %q is not an RFC 3339 time (2026-01-02T15:04:05Z): %v", beforeFlag, err)
				}
				before = t
			}
			if chunk < 1 {
				return usageError("purge: --chunk %d must be at least 1", chunk)
			}
			if _, _, err := existing(cmd); err != nil {
				return err
			}
			s, err := openWritable(cmd, "db", "backend")
			if err != nil {
				return err
			}
			defer s.Close()
			p, ok := s.(purger)
			if !ok {
				return fail(fmt.Errorf("anchorage: purge: %T cannot purge", s))
			}
			ctx := ctxOf(cmd)
			j := purgeJSON{Before: before.UTC()}
			if len(replicas) > 0 {
				if j.Replicated, err = replicatedThrough(cmd, s, replicas); err != nil {
					return err
				}
			}
			if j.SizeBefore, err = s.Size(ctx); err != nil {
				return fail(err)
			}
			bar := newBar(cmd.ErrOrStderr(), -1, quiet || asJSON, "purge: removing tombstones")
			st, err := p.Purge(ctx, anchor.MakeHLC(before.UnixMilli(), 0), &backend.PurgeOptions{Chunk: chunk, Replicated: j.Replicated,
				Progress: func(st backend.PurgeStats) { _ = bar.Set(st.Purged + st.Kept) }})
			_ = bar.Finish()
			if err != nil {
				return fail(err)
			}
			j.Candidates, j.Purged, j.Kept, j.Chunks = st.Candidates, st.Purged, st.Kept, st.Chunks
			j.HorizonSeq, j.ElapsedMS = st.Horizon.Seq, st.Elapsed.Milliseconds()
			if j.SizeAfter, err = s.Size(ctx); err != nil {
				return fail(err)
			}
			return emit(cmd, asJSON, j, printPurge)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&olderThan, "older-than", 0, "purge tombstones of deletes older than this (e.g. 720h)")
	f.StringVar(&beforeFlag, "before", "", "purge tombstones of deletes before this RFC 3339 time")
	f.IntVar(&chunk, "chunk", 1000, "tombstones removed per transaction")
	f.StringSliceVar(&replicas, "replica", nil, "a replica of the store (path or connection string; repeated): purge only what every replica has imported")
	addStoreFlags(cmd, "the store to purge")
	addJSON(cmd, &asJSON, "the counts")
	addQuiet(cmd, &quiet)
	return cmd
}

// replicatedThrough opens each replica read-only and returns their least
// import cursor for s (replica.MinCursor).
func replicatedThrough(cmd *cobra.Command, s backend.Store, paths []string) (uint64, error) {
	_, _, o := storeFlags(cmd, "db", "backend")
	o.ReadOnly = true
	var rs []backend.Store
	defer func() {
		for _, r := range rs {
			r.Close()
		}
	}()
	for _, p := range paths {
		r, err := openStore(autoBackend, p, o)
		if err != nil {
			return 0, fail(fmt.Errorf("anchorage: purge: replica %s: %w", p, err))
		}
		rs = append(rs, r)
	}
	n, err := replica.MinCursor(ctxOf(cmd), s, rs...)
	return n, fail(err)
}

type compactJSON struct {
	Backend   string `json:"backend"`
	Before    int64  `json:"size_before"`
	After     int64  `json:"size_after"`
	ElapsedMS int64  `json:"elapsed_ms"`
}

func printCompact(w io.Writer, j compactJSON) {
	saved := j.Before - j.After
	pct := 0.0
	if j.Before > 0 {
		pct = 100 * float64(saved) / float64(j.Before)
	}
	fmt.Fprintf(w, "compacted (%s): %d -> %d bytes, %d bytes (%.1f%%) given back, in %s\n",
		j.Backend, j.Before, j.After, saved, pct, time.Duration(j.ElapsedMS)*time.Millisecond)
}

func newCompactCmd() *cobra.Command {
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:   "compact --db PATH",
		Short: "Give a store's free space back to the file system",
		Long: `compact gives back the space deleted and purged data left free inside the
store:

  bolt       copies the store into a new file with bbolt's compaction and
             renames it over the old one; the store must not be open
             anywhere (bolt's file lock: compact fails after --timeout)
  sqlite     VACUUM, then a checkpoint that truncates the write-ahead log;
             other processes' writers wait for it
  postgres   VACUUM (ANALYZE) on the store's tables; rewriting them
             (VACUUM FULL) takes exclusive locks and is left to the
             database administrator

It prints the store's size before and after.`,
		Example: `  anchorage compact --db graph.db
  anchorage compact --db graph.sqlite --json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, path, err := existing(cmd)
			if err != nil {
				return err
			}
			bar := newBar(cmd.ErrOrStderr(), -1, quiet || asJSON, "compact: rewriting "+path)
			stop := ticking(bar, 200*time.Millisecond)
			st, err := compactStore(cmd, name, path)
			stop()
			_ = bar.Finish()
			if err != nil {
				return err
			}
			return emit(cmd, asJSON, compactJSON{Backend: name, Before: st.Before, After: st.After, ElapsedMS: st.Elapsed.Milliseconds()}, printCompact)
		},
	}
	addStoreFlags(cmd, "the store to compact")
	addJSON(cmd, &asJSON, "the sizes")
	addQuiet(cmd, &quiet)
	return cmd
}

func compactStore(cmd *cobra.Command, name, path string) (backend.CompactStats, error) {
	_, _, o := storeFlags(cmd, "db", "backend")
	if name == anchorage.Bolt {
		st, err := bolt.Compact(ctxOf(cmd), path, &bolt.CompactOptions{Timeout: o.Timeout})
		if errors.Is(err, anchor.ErrLocked) {
			err = fmt.Errorf("%w; compacting a bolt store needs it closed everywhere: stop the program holding it, or wait longer with --timeout", err)
		}
		return st, fail(err)
	}
	s, err := openWritable(cmd, "db", "backend")
	if err != nil {
		return backend.CompactStats{}, err
	}
	defer s.Close()
	c, ok := s.(compacter)
	if !ok {
		return backend.CompactStats{}, fail(fmt.Errorf("anchorage: compact: %T: %w", s, backend.ErrNoCompact))
	}
	st, err := c.Compact(ctxOf(cmd))
	return st, fail(err)
}
