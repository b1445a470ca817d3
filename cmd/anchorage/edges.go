package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

type edgeJSON struct {
	Edge     string `json:"edge"`
	Dir      string `json:"direction"`
	Type     string `json:"type"`
	Peer     string `json:"peer"`
	PeerType string `json:"peer_type,omitempty"`
}

func newEdgesCmd() *cobra.Command {
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:   "edges ID --db PATH",
		Short: "List a node's edges with peers, direction and type",
		Long: `edges lists the adjacency rows of one node: each edge's ID, its direction
seen from the node (out, in, both for undirected), its archetype type, and
the peer node with the peer's type.

An unknown or malformed ID exits with status 2.`,
		Example: `  anchorage edges 3f0c9a8e-2b1d-4c55-9e11-0a7b6c5d4e3f --db graph.db`,
		Args:    exactArgs("ID"),
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
			fmt.Fprintf(w, "%s %s(%s): %s\n", node.Kind, node.Type, node.ID, plural(len(rows), "edge"))
			if len(rows) == 0 {
				return nil
			}
			table := [][]string{{"EDGE", "DIR", "TYPE", "PEER", "PEER TYPE"}}
			for _, r := range rows {
				table = append(table, []string{r.Edge, r.Dir, r.Type, r.Peer, r.PeerType})
			}
			return fail(writeTable(w, "", table))
		},
	}
	addStoreFlags(cmd, "the store to read")
	addJSON(cmd, &asJSON, "the edges")
	addQuiet(cmd, &quiet)
	return cmd
}
