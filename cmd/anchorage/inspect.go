package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

func joinNames(names []string) string { return strings.Join(names, ", ") }

// withView opens the --db store read-only and calls fn with one consistent
// snapshot of it.
func withView(cmd *cobra.Command, fn func(s backend.Store, name string, v backend.View) error) error {
	s, name, err := openReadOnly(cmd)
	if err != nil {
		return err
	}
	defer s.Close()
	return fail(s.View(ctxOf(cmd), func(v backend.View) error { return fn(s, name, v) }))
}

func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return fail(enc.Encode(v))
}

// parseID parses a command-line anchor ID; a malformed one is bad input.
func parseID(s string) (anchor.ID, error) {
	id, err := anchor.ParseID(strings.TrimSpace(s))
	if err != nil {
		return id, usageError("%v", err)
	}
	return id, nil
}

// lookup reads one anchor; an unknown ID is bad input (exit 2).
func lookup(cmd *cobra.Command, v backend.View, id anchor.ID) (*anchor.Anchor, error) {
	a, err := v.Anchor(id)
	if errors.Is(err, anchor.ErrNotFound) {
		path, _ := cmd.Flags().GetString("db")
		return nil, usageError("no anchor %s in %s", id, path)
	}
	return a, err
}

// ---- verify ----

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
		state = fmt.Sprintf("%d PROBLEMS", len(r.Problems))
	}
	return fmt.Sprintf("%s (%d anchors, %d tombstones, %d live edges, %d adjacency rows, %d log entries)",
		state, r.Anchors, r.Tombstones, r.Edges, r.Adjacency, r.LogEntries)
}

func newVerifyCmd() *cobra.Command {
	var asJSON bool
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
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, _, err := openReadOnly(cmd)
			if err != nil {
				return err
			}
			defer s.Close()
			r, err := backend.Verify(ctxOf(cmd), s)
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
					fmt.Fprintf(w, "  %s\n", p)
				}
			}
			if !r.Clean() {
				return checkFailed("verify: %d problems found", len(r.Problems))
			}
			return nil
		},
	}
	addStoreFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// ---- stats ----

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
	LogEntries int                  `json:"change_log_entries"`
	LastSeq    uint64               `json:"last_seq"`
	FileBytes  int64                `json:"file_bytes"` // -1 if the backend cannot tell
}

func newStatsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "stats --db PATH",
		Short: "Show a store's anchors by kind, edges, change log, identity, clock and size",
		Long: `stats scans the store read-only and prints: anchors by kind (live and
tombstones), live edges and adjacency rows, the change-log length and last
sequence number, the store and replica IDs, the schema version, the
persisted HLC, and the file size.`,
		Example: `  anchorage stats --db graph.db
  anchorage stats --db graph.db --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, _ := cmd.Flags().GetString("db")
			st := statsJSON{Path: path, Kinds: map[string]kindStats{}, FileBytes: -1}
			err := withView(cmd, func(s backend.Store, name string, v backend.View) error {
				st.Backend = name
				m := v.Meta()
				st.StoreID, st.ReplicaID, st.Schema = m.StoreID.String(), m.ReplicaID.String(), m.Schema
				st.HLC, st.HLCTime, st.LastSeq = uint64(m.HLC), m.HLC.String(), m.Seq
				if n, err := s.Size(cmd.Context()); err == nil {
					st.FileBytes = n
				}
				for _, k := range []anchor.Kind{anchor.KindNode, anchor.KindEdge, anchor.KindWalker, anchor.KindObject} {
					st.Kinds[k.String()] = kindStats{}
				}
				err := v.Anchors(func(_ anchor.ID, a *anchor.Anchor, err error) error {
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
				return v.Changes(0, func(uint64, anchor.ID) error { st.LogEntries++; return nil })
			})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, st)
			}
			printStats(w, st)
			return nil
		},
	}
	addStoreFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the statistics as JSON")
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
		fmt.Fprintf(tw, "file size\t%s (%d bytes)\n", humanBytes(st.FileBytes), st.FileBytes)
	}
	fmt.Fprintf(tw, "edges\t%d live, %d adjacency rows\n", st.Edges, st.Adjacency)
	fmt.Fprintf(tw, "change log\t%d entries, last seq %d\n", st.LogEntries, st.LastSeq)
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

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// ---- get ----

type fieldJSON struct {
	Value any    `json:"value"`
	Stamp string `json:"stamp"`
	Error string `json:"error,omitempty"`
}

type anchorJSON struct {
	ID          string               `json:"id"`
	Kind        string               `json:"kind"`
	Type        string               `json:"type"`
	Owner       string               `json:"owner"`
	Access      accessJSON           `json:"access"`
	Created     string               `json:"created"`
	Updated     string               `json:"updated"`
	Deleted     string               `json:"deleted,omitempty"`
	AccessStamp string               `json:"access_stamp"`
	Source      string               `json:"source,omitempty"`
	Target      string               `json:"target,omitempty"`
	Undirected  bool                 `json:"undirected,omitempty"`
	Fields      map[string]fieldJSON `json:"fields"`
}

type accessJSON struct {
	All   string            `json:"all"`
	Roots map[string]string `json:"roots,omitempty"`
}

func newAnchorJSON(a *anchor.Anchor) anchorJSON {
	out := anchorJSON{ID: a.ID.String(), Kind: a.Kind.String(), Type: a.Type, Owner: a.Owner.String(),
		Access:  accessJSON{All: a.Access.All.String()},
		Created: a.Created.String(), Updated: a.Updated.String(), AccessStamp: a.AccessStamp().String(),
		Fields: map[string]fieldJSON{}}
	if !a.Live() {
		out.Deleted = a.Deleted.String()
	}
	if len(a.Access.Roots) > 0 {
		out.Access.Roots = map[string]string{}
		for r, l := range a.Access.Roots {
			out.Access.Roots[r.String()] = l.String()
		}
	}
	if a.Kind == anchor.KindEdge {
		out.Source, out.Target, out.Undirected = a.Source.String(), a.Target.String(), a.Undirected
	}
	for _, name := range a.FieldNames() {
		f := a.Fields[name]
		var v any
		fj := fieldJSON{Stamp: f.Stamp.String()}
		if err := anchor.DecodeValue(f.Value, &v); err != nil {
			fj.Error = err.Error()
		} else {
			fj.Value = jsonable(v)
		}
		out.Fields[name] = fj
	}
	return out
}

// jsonable turns a msgpack-decoded value into one encoding/json accepts:
// maps with non-string keys get their keys formatted, byte strings become
// base64 text.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonable(e)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = jsonable(e)
		}
		return s
	case []byte:
		return "base64:" + base64.StdEncoding.EncodeToString(x)
	case float64, float32:
		// encoding/json refuses NaN and infinities.
		f := fmt.Sprint(x)
		if strings.ContainsAny(f, "NI") {
			return f
		}
		return x
	}
	return v
}

func newGetCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get ID --db PATH",
		Short: "Show one anchor: header and decoded fields",
		Long: `get prints one stored anchor (tombstones included): its kind, archetype
type, owner, access grants, HLC stamps, edge endpoints for an edge, and its
fields decoded from msgpack into generic values, each with its stamp.

An unknown or malformed ID exits with status 2.`,
		Example: `  anchorage get 3f0c9a8e-2b1d-4c55-9e11-0a7b6c5d4e3f --db graph.db
  anchorage get 3f0c9a8e2b1d4c559e110a7b6c5d4e3f --db graph.db --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			var a *anchor.Anchor
			err = withView(cmd, func(_ backend.Store, _ string, v backend.View) error {
				a, err = lookup(cmd, v, id)
				return err
			})
			if err != nil {
				return err
			}
			aj := newAnchorJSON(a)
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, aj)
			}
			printAnchor(w, aj)
			return nil
		},
	}
	addStoreFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the anchor as JSON")
	return cmd
}

func printAnchor(w io.Writer, a anchorJSON) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\n", a.ID)
	fmt.Fprintf(tw, "kind\t%s\n", a.Kind)
	fmt.Fprintf(tw, "type\t%s\n", a.Type)
	fmt.Fprintf(tw, "owner\t%s\n", a.Owner)
	acc := "all=" + a.Access.All
	roots := make([]string, 0, len(a.Access.Roots))
	for r, l := range a.Access.Roots {
		roots = append(roots, r+"="+l)
	}
	sort.Strings(roots)
	if len(roots) > 0 {
		acc += " " + strings.Join(roots, " ")
	}
	fmt.Fprintf(tw, "access\t%s\n", acc)
	fmt.Fprintf(tw, "created\t%s\n", a.Created)
	fmt.Fprintf(tw, "updated\t%s\n", a.Updated)
	fmt.Fprintf(tw, "access stamp\t%s\n", a.AccessStamp)
	if a.Deleted != "" {
		fmt.Fprintf(tw, "deleted\t%s (tombstone)\n", a.Deleted)
	}
	if a.Kind == anchor.KindEdge.String() {
		arrow := "->"
		if a.Undirected {
			arrow = "--"
		}
		fmt.Fprintf(tw, "edge\t%s %s %s\n", a.Source, arrow, a.Target)
	}
	tw.Flush()
	names := make([]string, 0, len(a.Fields))
	for n := range a.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "fields (%d):\n", len(names))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, n := range names {
		f := a.Fields[n]
		val := f.Error
		if f.Error == "" {
			b, err := json.Marshal(f.Value)
			if err != nil {
				val = fmt.Sprint(f.Value)
			} else {
				val = string(b)
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t(stamp %s)\n", n, val, f.Stamp)
	}
	tw.Flush()
}

// ---- edges ----

type edgeJSON struct {
	Edge     string `json:"edge"`
	Dir      string `json:"direction"`
	Type     string `json:"type"`
	Peer     string `json:"peer"`
	PeerType string `json:"peer_type,omitempty"`
}

func newEdgesCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "edges ID --db PATH",
		Short: "List a node's edges with peers, direction and type",
		Long: `edges lists the adjacency rows of one node: each edge's ID, its direction
seen from the node (out, in, both for undirected), its archetype type, and
the peer node with the peer's type.

An unknown or malformed ID exits with status 2.`,
		Example: `  anchorage edges 3f0c9a8e-2b1d-4c55-9e11-0a7b6c5d4e3f --db graph.db`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			var node *anchor.Anchor
			rows := []edgeJSON{}
			err = withView(cmd, func(_ backend.Store, _ string, v backend.View) error {
				if node, err = lookup(cmd, v, id); err != nil {
					return err
				}
				return v.Adjacent(id, func(r anchor.Adj) error {
					e := edgeJSON{Edge: r.Edge.String(), Dir: r.Dir.String(), Type: r.Type, Peer: r.Peer.String()}
					if p, err := v.Anchor(r.Peer); err == nil {
						e.PeerType = p.Type
					}
					rows = append(rows, e)
					return nil
				})
			})
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(w, rows)
			}
			fmt.Fprintf(w, "%s %s(%s): %d edges\n", node.Kind, node.Type, node.ID, len(rows))
			if len(rows) == 0 {
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "EDGE\tDIR\tTYPE\tPEER\tPEER TYPE")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Edge, r.Dir, r.Type, r.Peer, r.PeerType)
			}
			return fail(tw.Flush())
		},
	}
	addStoreFlags(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the edges as JSON")
	return cmd
}
