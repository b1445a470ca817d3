package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

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
	Restored    string               `json:"restored,omitempty"`
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
	if a.Restored != 0 {
		out.Restored = a.Restored.String()
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
		var v any // generic decode: any stored type shows as it is
		fj := fieldJSON{Stamp: f.Stamp.String()}
		if err := anchor.DecodeValue(f.Value, &v); err != nil {
			fj.Error = undecodable(f.Value)
		} else {
			fj.Value = jsonable(v)
		}
		out.Fields[name] = fj
	}
	return out
}

// undecodable describes a stored field value that is not valid msgpack,
// without the decoder's internals: its size and first bytes.
func undecodable(b []byte) string {
	head := b[:min(len(b), 8)]
	return fmt.Sprintf("undecodable value (%s, starting %x): the record is damaged; run verify", plural(len(b), "byte"), head)
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
	var asJSON, quiet bool
	cmd := &cobra.Command{
		Use:   "get ID --db PATH",
		Short: "Show one anchor: header and decoded fields",
		Long: `get prints one stored anchor (tombstones included): its kind, archetype
type, owner, access grants, HLC stamps, edge endpoints for an edge, and its
fields decoded from msgpack into generic values, each with its stamp.

An unknown or malformed ID exits with status 2.`,
		Example: `  anchorage get 3f0c9a8e-2b1d-4c55-9e11-0a7b6c5d4e3f --db graph.db
  anchorage get 3f0c9a8e2b1d4c559e110a7b6c5d4e3f --db graph.db --json`,
		Args: exactArgs("ID"),
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
			return emit(cmd, asJSON, newAnchorJSON(a), printAnchor)
		},
	}
	addStoreFlags(cmd, "the store to read")
	addJSON(cmd, &asJSON, "the anchor")
	addQuiet(cmd, &quiet)
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
	if a.Restored != "" {
		fmt.Fprintf(tw, "restored\t%s\n", a.Restored)
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
	fmt.Fprintf(w, "%s:\n", plural(len(names), "field"))
	var table [][]string
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
		table = append(table, []string{n, val, "(stamp " + f.Stamp + ")"})
	}
	_ = writeTable(w, "  ", table)
}
