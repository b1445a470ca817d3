package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

func newDotCmd() *cobra.Command {
	var (
		rootArg  string
		depth    int
		maxNodes int
		quiet    bool
	)
	cmd := &cobra.Command{
		Use:   "dot ID --db PATH",
		Short: "Print the subgraph reachable from a node as Graphviz DOT",
		Long: `dot walks the adjacency index breadth-first from the node ID, in both
directions, up to --depth hops, and prints the nodes and edges it reached as
a Graphviz digraph: node labels are the archetype type and a short ID (the
last 8 hex digits: the random part of the ID, since its first digits are a
timestamp), edge labels the edge type; undirected edges are drawn without
arrowheads. The walk stops adding nodes after --max-nodes (0: no limit) and
says so on stderr (unless -q).

Render it with Graphviz, e.g. anchorage dot ... | dot -Tsvg > graph.svg`,
		Example: `  anchorage dot 3f0c9a8e-2b1d-4c55-9e11-0a7b6c5d4e3f --db graph.db --depth 2 > graph.dot`,
		Args: func(cmd *cobra.Command, args []string) error {
			if rootArg != "" && len(args) == 0 { // the old --root ID
				return nil
			}
			return exactArgs("ID")(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if depth < 0 {
				return usageError("dot: --depth must be 0 or more")
			}
			if len(args) == 1 {
				rootArg = args[0]
			}
			id, err := parseID(rootArg)
			if err != nil {
				return err
			}
			var b strings.Builder
			truncated := false
			err = withView(cmd, func(_ backend.Store, _ string, v backend.View) error {
				if _, err := lookup(cmd, v, id); err != nil {
					return err
				}
				truncated, err = writeDot(&b, v, id, depth, maxNodes)
				return err
			})
			if err != nil {
				return err
			}
			if truncated && !quiet {
				fmt.Fprintf(cmd.ErrOrStderr(), "anchorage: dot: stopped at --max-nodes %d; the graph is cut\n", maxNodes)
			}
			_, err = io.WriteString(cmd.OutOrStdout(), b.String())
			return fail(err)
		},
	}
	addStoreFlags(cmd, "the store to read")
	f := cmd.Flags()
	f.IntVar(&depth, "depth", 2, "how many hops to follow from the node")
	f.IntVar(&maxNodes, "max-nodes", 1000, "stop adding nodes after this many (0: no limit)")
	addQuiet(cmd, &quiet)
	f.StringVar(&rootArg, "root", "", "ID of the node to start from")
	_ = f.MarkDeprecated("root", "give the ID as the argument: anchorage dot ID")
	return cmd
}

// shortID labels a node: the last 8 hex digits of its ID. IDs are time
// ordered (their first 48 bits are a millisecond timestamp), so the first
// digits are the same for anchors created together; the tail is random.
func shortID(id anchor.ID) string {
	s := id.String()
	return s[len(s)-8:]
}

// writeDot writes the subgraph of nodes within depth hops of root. It
// reports whether it stopped early at maxNodes.
func writeDot(w io.Writer, v backend.View, root anchor.ID, depth, maxNodes int) (bool, error) {
	dist := map[anchor.ID]int{root: 0}
	order := []anchor.ID{root}
	seenEdge := map[anchor.ID]bool{}
	var edges []string
	truncated := false
	for i := 0; i < len(order); i++ {
		n := order[i]
		if dist[n] >= depth {
			continue
		}
		err := v.Adjacent(n, func(r anchor.Adj) error {
			if _, ok := dist[r.Peer]; !ok {
				if maxNodes > 0 && len(order) >= maxNodes {
					truncated = true
					return nil
				}
				dist[r.Peer] = dist[n] + 1
				order = append(order, r.Peer)
			}
			if seenEdge[r.Edge] {
				return nil
			}
			seenEdge[r.Edge] = true
			src, dst, attrs := n, r.Peer, ""
			switch r.Dir {
			case anchor.In:
				src, dst = r.Peer, n
			case anchor.Both:
				attrs = ", dir=none"
			}
			edges = append(edges, fmt.Sprintf("  %q -> %q [label=%s%s];\n", src.String(), dst.String(), strconv.Quote(r.Type), attrs))
			return nil
		})
		if err != nil {
			return truncated, err
		}
	}
	fmt.Fprintf(w, "digraph anchorage {\n  // reachable from %s within %s: %s, %s\n  node [shape=box, fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
		root, plural(depth, "hop"), plural(len(order), "node"), plural(len(edges), "edge"))
	for _, id := range order {
		label := "?\n" + shortID(id)
		extra := ""
		a, err := v.Anchor(id)
		switch {
		case err == nil:
			label = a.Type + "\n" + shortID(id)
			if !a.Live() {
				extra = ", style=dashed"
			}
		case anchor.IsNotFound(err):
			label = "missing\n" + shortID(id)
			extra = ", color=red"
		default:
			label = "unreadable\n" + shortID(id)
			extra = ", color=red"
		}
		if id == root {
			extra += ", penwidth=2"
		}
		fmt.Fprintf(w, "  %q [label=%s%s];\n", id.String(), strconv.Quote(label), extra)
	}
	for _, e := range edges {
		io.WriteString(w, e)
	}
	_, err := io.WriteString(w, "}\n")
	return truncated, err
}
