package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestLsAndFind: ls pages a node's edges of one type and direction with a
// cursor; find lists anchors by archetype and by a declared index, and a
// field without one exits with status 2.
func TestLsAndFind(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "graph.db")
	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	_, err = s.Apply(ctx, &delta.Declare{Indexes: delta.Indexes{Fields: []delta.FieldIndex{{Type: "User", Field: "name", Unique: true}}}})
	require.NoError(t, err)
	root, err := tiered.CreateRoot(ctx, s, nil)
	require.NoError(t, err)
	m := tiered.New(s, root, nil)
	var todos []string
	for range 5 {
		n, _ := m.Create(anchor.KindNode, "Todo", nil)
		e, err := m.Connect(ctx, root, n, "Has", nil)
		require.NoError(t, err)
		todos = append(todos, e.String())
		require.NoError(t, m.Commit(ctx)) // one stamp each: creation order
	}
	u, _ := m.Create(anchor.KindNode, "User", map[string]any{"name": "ada"})
	_, err = m.Connect(ctx, u, root, "Follows", nil)
	require.NoError(t, err)
	require.NoError(t, m.Commit(ctx))
	require.NoError(t, s.Close())

	var page lsJSON
	r := cli(t, "ls", root.String(), "--db", path, "--type", "Has", "--dir", "out", "--limit", "3", "--json")
	requireOK(t, r)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &page))
	require.Len(t, page.Edges, 3)
	require.NotEmpty(t, page.Next)
	got := []string{}
	for _, e := range page.Edges {
		got = append(got, e.Edge)
	}
	r = cli(t, "ls", root.String(), "--db", path, "--type", "Has", "--dir", "out", "--limit", "3", "--after", page.Next, "--json")
	requireOK(t, r)
	page = lsJSON{}
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &page))
	require.Empty(t, page.Next)
	for _, e := range page.Edges {
		got = append(got, e.Edge)
	}
	require.Equal(t, todos, got, "two pages, in creation order")
	r = cli(t, "ls", root.String(), "--db", path, "--dir", "in")
	requireOK(t, r)
	require.Contains(t, r.stdout, "Follows")
	require.NotContains(t, r.stdout, "Has ")

	var found findJSON
	r = cli(t, "find", "--db", path, "--type", "User", "--field", "name", "--value", "ada", "--json")
	requireOK(t, r)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &found))
	require.Len(t, found.Anchors, 1)
	require.Equal(t, u.String(), found.Anchors[0].ID)
	r = cli(t, "find", "--db", path, "--type", tiered.RootType)
	requireOK(t, r)
	require.Contains(t, r.stdout, root.String())
	r = cli(t, "find", "--db", path, "--type", "Todo", "--limit", "2")
	requireOK(t, r)
	require.Contains(t, r.stdout, "next page: --after ")

	r = cli(t, "find", "--db", path, "--type", "Todo", "--field", "title", "--value", "x")
	require.Equal(t, exitUsage, r.code, r.stderr)
	require.Contains(t, r.stderr, "no such index")
	r = cli(t, "ls", root.String(), "--db", path, "--dir", "sideways")
	require.Equal(t, exitUsage, r.code, r.stderr)
}
