package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/delta"
)

// A page cursor on the command line: the index key, base64url.
func encodeCursor(k []byte) string {
	if k == nil {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(k)
}

func decodeCursor(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	k, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, usageError("--after %q is not a cursor this command printed", s)
	}
	return k, nil
}

type lsJSON struct {
	Edges []edgeJSON `json:"edges"`
	Next  string     `json:"next,omitempty"`
}

func parseDir(s string) (anchor.Direction, error) {
	switch s {
	case "", "all":
		return 0, nil
	case "out":
		return anchor.Out, nil
	case "in":
		return anchor.In, nil
	case "both":
		return anchor.Both, nil
	}
	return 0, usageError("--dir %q: want out, in, both or all", s)
}

func newLsCmd() *cobra.Command {
	var asJSON, quiet bool
	var typ, dir, after string
	var limit int
	cmd := &cobra.Command{
		Use:   "ls NODE --db PATH [--type TYPE] [--dir out|in|both] [--limit N] [--after CURSOR]",
		Short: "List a node's edges of one type and direction, a page at a time",
		Long: `ls lists a node's edges through the index every store keeps: filtered by
edge type and direction, in the order the edges were created, --limit rows
per page (default 100). When more rows follow, the last line (or "next" in
--json) is the cursor to pass to --after for the next page. Only the rows
of the page are read, however many edges the node has.`,
		Example: `  anchorage ls 3f0c9a8e-2b1d-4c55-9e11-0a7b6c5d4e3f --db graph.db --type HasTodo --dir out --limit 20`,
		Args:    exactArgs("NODE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			q := delta.EdgeQuery{Type: typ}
			if q.Dir, err = parseDir(dir); err != nil {
				return err
			}
			if q.After, err = decodeCursor(after); err != nil {
				return err
			}
			if limit < 1 {
				return usageError("--limit %d: want at least 1", limit)
			}
			out := lsJSON{Edges: []edgeJSON{}}
			err = withView(cmd, func(_ backend.Store, _ string, v backend.View) error {
				if _, err := lookup(cmd, v, id); err != nil {
					return err
				}
				err := delta.Edges(v, id, q, func(r *delta.EdgeEntry) error {
					if len(out.Edges) == limit {
						return errPageDone
					}
					e := edgeJSON{Edge: r.Edge.String(), Dir: r.Dir.String(), Type: r.Type, Peer: r.Peer.String()}
					if p, err := v.Anchor(r.Peer); err == nil {
						e.PeerType = p.Type
					}
					out.Edges, out.Next = append(out.Edges, e), encodeCursor(r.Cursor)
					return nil
				})
				return pageEnd(err, &out.Next)
			})
			if err != nil {
				return err
			}
			table := [][]string{{"EDGE", "DIR", "TYPE", "PEER", "PEER TYPE"}}
			for _, r := range out.Edges {
				table = append(table, []string{r.Edge, r.Dir, r.Type, r.Peer, r.PeerType})
			}
			return printPage(cmd, asJSON, out, table, out.Next)
		},
	}
	addStoreFlags(cmd, "the store to read")
	cmd.Flags().StringVar(&typ, "type", "", "only edges of this type")
	cmd.Flags().StringVar(&dir, "dir", "all", "only edges of this direction: out, in, both (undirected) or all")
	cmd.Flags().IntVar(&limit, "limit", 100, "rows per page")
	cmd.Flags().StringVar(&after, "after", "", "the cursor a previous page printed")
	addJSON(cmd, &asJSON, "the page")
	addQuiet(cmd, &quiet)
	return cmd
}

// errPageDone ends a page's scan.
var errPageDone = errors.New("page done")

// pageEnd turns the end of a page's scan into its result: a scan that
// ran out ends the listing (no next cursor); one stopped by a full page
// keeps the cursor of its last row.
func pageEnd(err error, next *string) error {
	switch err {
	case nil:
		*next = ""
	case errPageDone:
		err = nil
	}
	return err
}

// printPage writes a page: v as JSON, or the table and the cursor of the
// next page.
func printPage(cmd *cobra.Command, asJSON bool, v any, table [][]string, next string) error {
	w := cmd.OutOrStdout()
	if asJSON {
		return writeJSON(w, v)
	}
	if err := writeTable(w, "", table); err != nil {
		return fail(err)
	}
	if next != "" {
		fmt.Fprintf(w, "next page: --after %s\n", next)
	}
	return nil
}

type findJSON struct {
	Anchors []anchorJSON `json:"anchors"`
	Next    string       `json:"next,omitempty"`
}

func newFindCmd() *cobra.Command {
	var asJSON, quiet bool
	var typ, field, value, after string
	var limit int
	cmd := &cobra.Command{
		Use:   "find --db PATH --type TYPE [--field NAME --value JSON] [--limit N] [--after CURSOR]",
		Short: "Find anchors by archetype, or by the value of an indexed field",
		Long: `find lists the live anchors of one archetype, a page at a time in ID order
(--after takes the cursor a page printed), or, with --field and --value,
the anchors whose field holds the value, through an index the store
declares on (type, field). --value is a JSON literal (42, true, "ada"); a
word that is not JSON is taken as a string. A field without a declared
index exits with status 2.`,
		Example: `  anchorage find --db graph.db --type Root
  anchorage find --db graph.db --type User --field name --value ada --json`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ == "" {
				return usageError("find needs --type")
			}
			if (field == "") != (value == "") {
				return usageError("--field and --value go together")
			}
			cur, err := decodeCursor(after)
			if err != nil {
				return err
			}
			if limit < 1 {
				return usageError("--limit %d: want at least 1", limit)
			}
			out := findJSON{Anchors: []anchorJSON{}}
			err = withView(cmd, func(_ backend.Store, _ string, v backend.View) error {
				add := func(id anchor.ID) error {
					a, err := v.Anchor(id)
					if err != nil {
						return err
					}
					out.Anchors = append(out.Anchors, newAnchorJSON(a))
					return nil
				}
				if field != "" {
					return lookupField(v, typ, field, value, add)
				}
				err := delta.OfType(v, typ, cur, func(id anchor.ID, cursor []byte) error {
					if len(out.Anchors) == limit {
						return errPageDone
					}
					out.Next = encodeCursor(cursor)
					return add(id)
				})
				return pageEnd(err, &out.Next)
			})
			if err != nil {
				return err
			}
			table := [][]string{{"ID", "KIND", "TYPE", "OWNER"}}
			for _, a := range out.Anchors {
				table = append(table, []string{a.ID, a.Kind, a.Type, a.Owner})
			}
			return printPage(cmd, asJSON, out, table, out.Next)
		},
	}
	addStoreFlags(cmd, "the store to read")
	cmd.Flags().StringVar(&typ, "type", "", "the archetype to find")
	cmd.Flags().StringVar(&field, "field", "", "an indexed field to match")
	cmd.Flags().StringVar(&value, "value", "", "the value to match, as JSON")
	cmd.Flags().IntVar(&limit, "limit", 100, "anchors per page (by archetype)")
	cmd.Flags().StringVar(&after, "after", "", "the cursor a previous page printed")
	addJSON(cmd, &asJSON, "the anchors")
	addQuiet(cmd, &quiet)
	return cmd
}

// lookupField finds typ's anchors whose field holds value (a JSON literal,
// or a bare word taken as a string) through the store's declared index.
func lookupField(v backend.View, typ, field, value string, fn func(anchor.ID) error) error {
	var val any
	if err := json.Unmarshal([]byte(value), &val); err != nil {
		val = value
	}
	raw, err := anchor.EncodeValue(val)
	if err != nil {
		return err
	}
	return delta.Lookup(v, typ, field, raw, fn)
}
