package main

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/dustin/go-humanize"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

type kindStats struct {
	Live       int `json:"live"`
	Tombstones int `json:"tombstones"`
}

type statsJSON struct {
	Path       string               `json:"path"`
	Backend    string               `json:"backend"`
	StoreID    string               `json:"store_id"`
	ReplicaID  string               `json:"replica_id"`
	Schema     int                  `json:"schema_version"`
	HLC        uint64               `json:"hlc"`
	HLCTime    string               `json:"hlc_time"`
	Kinds      map[string]kindStats `json:"anchors_by_kind"`
	Corrupt    int                  `json:"corrupt_records"`
	Edges      int                  `json:"edges"` // live edge anchors
	Adjacency  int                  `json:"adjacency_rows"`
	HeldEdges  int                  `json:"held_edges"` // replicated edges waiting for an endpoint (delta.CountHeld)
	LogEntries int                  `json:"change_log_entries"`
	LastSeq    uint64               `json:"last_seq"`
	FileBytes  int64                `json:"file_bytes"`         // -1 if the backend cannot tell
	WALBytes   int64                `json:"wal_bytes"`          // the write-ahead log (included in file_bytes); -1 if the backend keeps none
	PurgedSeq  uint64               `json:"purged_through_seq"` // purge horizon: tombstones logged up to here may be gone (0: never purged)
	PurgedTime string               `json:"purged_before,omitempty"`
}

func newStatsCmd() *cobra.Command {
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:   "stats --db PATH",
		Short: "Show a store's anchors by kind, edges, change log, identity, clock and size",
		Long: `stats scans the store read-only and prints: anchors by kind (live and
tombstones), live edges and adjacency rows, the change-log length and last
sequence number, the purge horizon (see purge), the store and replica IDs,
the schema version, the persisted HLC, and the file size (with, for SQLite, the size of its
write-ahead log).`,
		Example: `  anchorage stats --db graph.db
  anchorage stats --db graph.db --json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, _ := cmd.Flags().GetString("db")
			st := statsJSON{Path: path, Kinds: map[string]kindStats{}, FileBytes: -1, WALBytes: -1}
			err := withView(cmd, func(s backend.Store, name string, v backend.View) error {
				st.Backend = name
				m := v.Meta()
				st.StoreID, st.ReplicaID, st.Schema = m.StoreID.String(), m.ReplicaID.String(), m.Schema
				st.HLC, st.HLCTime, st.LastSeq = uint64(m.HLC), m.HLC.String(), m.Seq
				if n, err := s.Size(cmd.Context()); err == nil {
					st.FileBytes = n
				}
				if w, ok := s.(interface{ WALSize() (int64, error) }); ok {
					if n, err := w.WALSize(); err == nil {
						st.WALBytes = n
					}
				}
				h, err := backend.ReadHorizon(v)
				if err != nil {
					return err
				}
				if st.PurgedSeq = h.Seq; h.Before != 0 {
					st.PurgedTime = h.Before.String()
				}
				for _, k := range []anchor.Kind{anchor.KindNode, anchor.KindEdge, anchor.KindWalker, anchor.KindObject} {
					st.Kinds[k.String()] = kindStats{}
				}
				err = v.Anchors(func(_ anchor.ID, a *anchor.Anchor, err error) error {
					if err != nil {
						st.Corrupt++
						return nil
					}
					ks := st.Kinds[a.Kind.String()]
					if a.Live() {
						ks.Live++
						if a.Kind == anchor.KindEdge {
							st.Edges++
						}
					} else {
						ks.Tombstones++
					}
					st.Kinds[a.Kind.String()] = ks
					return nil
				})
				if err != nil {
					return err
				}
				if err := v.Adjacency(func(anchor.Adj) error { st.Adjacency++; return nil }); err != nil {
					return err
				}
				if st.HeldEdges, err = delta.CountHeld(v); err != nil {
					return err
				}
				return v.Changes(0, func(uint64, anchor.ID) error { st.LogEntries++; return nil })
			})
			if err != nil {
				return err
			}
			return emit(cmd, asJSON, st, printStats)
		},
	}
	addStoreFlags(cmd, "the store to describe")
	addJSON(cmd, &asJSON, "the statistics")
	addQuiet(cmd, &quiet)
	return cmd
}

func printStats(w io.Writer, st statsJSON) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "store\t%s (%s)\n", st.Path, st.Backend)
	fmt.Fprintf(tw, "store id\t%s\n", st.StoreID)
	fmt.Fprintf(tw, "replica id\t%s\n", st.ReplicaID)
	fmt.Fprintf(tw, "schema version\t%d\n", st.Schema)
	fmt.Fprintf(tw, "hlc\t%s (%d)\n", st.HLCTime, st.HLC)
	if st.FileBytes >= 0 {
		fmt.Fprintf(tw, "file size\t%s (%s)\n", humanize.IBytes(uint64(st.FileBytes)), plural(int(st.FileBytes), "byte"))
	}
	if st.WALBytes >= 0 {
		fmt.Fprintf(tw, "write-ahead log\t%s (%s, included above)\n", humanize.IBytes(uint64(st.WALBytes)), plural(int(st.WALBytes), "byte"))
	}
	fmt.Fprintf(tw, "edges\t%d live, %s\n", st.Edges, plural(st.Adjacency, "adjacency row"))
	fmt.Fprintf(tw, "change log\t%s, last seq %d\n", plural(st.LogEntries, "entry"), st.LastSeq)
	if st.HeldEdges > 0 {
		fmt.Fprintf(tw, "held edges\t%d replicated, waiting for an endpoint to arrive\n", st.HeldEdges)
	}
	if st.PurgedSeq > 0 {
		fmt.Fprintf(tw, "purged\ttombstones deleted before %s, through seq %d\n", st.PurgedTime, st.PurgedSeq)
	}
	if st.Corrupt > 0 {
		fmt.Fprintf(tw, "corrupt records\t%d (run verify)\n", st.Corrupt)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tlive\ttombstones\t")
	kinds := make([]string, 0, len(st.Kinds))
	for k := range st.Kinds {
		kinds = append(kinds, k)
	}
	order := map[string]int{"node": 0, "edge": 1, "walker": 2, "object": 3}
	sort.Slice(kinds, func(i, j int) bool {
		oi, iok := order[kinds[i]]
		oj, jok := order[kinds[j]]
		if iok && jok {
			return oi < oj
		}
		if iok != jok {
			return iok
		}
		return kinds[i] < kinds[j]
	})
	for _, k := range kinds {
		fmt.Fprintf(tw, "%s\t%d\t%d\t\n", k, st.Kinds[k].Live, st.Kinds[k].Tombstones)
	}
	tw.Flush()
}
