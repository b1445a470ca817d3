package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
)

func TestVersionAndNoCommand(t *testing.T) {
	r := cli(t, "--version")
	requireOK(t, r)
	require.Regexp(t, `^anchorage \S+.* go1\.\d+`, r.stdout)

	r = cli(t)
	require.Equal(t, exitUsage, r.code, "no command is bad usage")
	require.Contains(t, r.stderr, "Available Commands:", "the help goes to stderr")
	require.Contains(t, r.stderr, "anchorage: no command given")
	require.Empty(t, r.stdout)
}

func TestSuggestionsOnTheirOwnLines(t *testing.T) {
	r := cli(t, "stat")
	require.Equal(t, exitUsage, r.code)
	require.Equal(t, "anchorage: unknown command \"stat\" for \"anchorage\"\nDid you mean this?\n\tstats\n", r.stderr)
}

func TestErrorPrefixOnce(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte(strings.Repeat("plain text, not a store\n", 100)), 0o600))
	for _, args := range [][]string{{"stats", "--db", text}, {"verify", "--db", text, "--backend", "sqlite"}, {"stats", "--db", dir}} {
		r := cli(t, args...)
		require.Equal(t, exitUsage, r.code, r.stderr)
		require.Equal(t, 1, strings.Count(r.stderr, "anchorage: "), "one prefix: %s", r.stderr)
	}
	require.Equal(t, "anchorage: open x: not an anchorage store", errorMessage(errString("open x: anchorage: not an anchorage store")))
}

type errString string

func (e errString) Error() string { return string(e) }

func TestPlurals(t *testing.T) {
	require.Equal(t, "1 edge", plural(1, "edge"))
	require.Equal(t, "0 edges", plural(0, "edge"))
	require.Equal(t, "2 log entries", plural(2, "log entry"))
	require.Equal(t, "1 hop", plural(1, "hop"))
	require.Equal(t, "anchorage: endpoint x is an edge, not a node", errorMessage(errString("anchorage: endpoint x is a edge, not a node")))

	path, out := demoStore(t, 1, 1) // the root has 2 edges; a post has 1
	r := cli(t, "edges", out.Root, "--db", path, "--json")
	requireOK(t, r)
	var rows []edgeJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows))
	r = cli(t, "edges", rows[0].Peer, "--db", path)
	requireOK(t, r)
	require.Contains(t, r.stdout, ": 1 edge\n")
	r = cli(t, "dot", out.Root, "--db", path, "--depth", "1")
	requireOK(t, r)
	require.Contains(t, r.stdout, "within 1 hop: 3 nodes, 2 edges")
}

// TestDotLabelsDistinct: 100 nodes whose IDs share their timestamp (made in
// the same millisecond) get 100 different labels.
func TestDotLabelsDistinct(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	s, err := bolt.Open(path, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	root := anchor.NewID()
	b := &delta.Batch{Root: anchor.SystemRoot, Changes: []delta.Change{{ID: root, Create: &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root"}}}}
	var ids []anchor.ID
	for range 100 {
		id := anchor.NewID()
		copy(id[:6], root[:6]) // the same 48-bit millisecond timestamp
		ids = append(ids, id)
		e := anchor.NewID()
		b.Changes = append(b.Changes,
			delta.Change{ID: id, Create: &anchor.Anchor{ID: id, Kind: anchor.KindNode, Owner: root, Type: "Post"}},
			delta.Change{ID: e, Create: &anchor.Anchor{ID: e, Kind: anchor.KindEdge, Owner: root, Type: "Has", Source: root, Target: id}})
	}
	_, err = s.Apply(t.Context(), b)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	r := cli(t, "dot", root.String(), "--db", path, "--max-nodes", "0")
	requireOK(t, r)
	labels := regexp.MustCompile(`label="Post\\n([0-9a-f]+)"`).FindAllStringSubmatch(r.stdout, -1)
	require.Len(t, labels, 100)
	seen := map[string]bool{}
	for _, l := range labels {
		seen[l[1]] = true
	}
	require.Len(t, seen, 100, "labels repeat")
	// The old label, the first 8 hex digits, is the same for all of them.
	require.Equal(t, ids[0].String()[:8], ids[99].String()[:8])
}

// TestProgress: verify, import and sync show progress on stderr, with a
// total where one is known, and -q or --json hide it.
func TestProgress(t *testing.T) {
	t.Setenv(progressEnv, "always")
	dir := t.TempDir()
	a, _ := demoStore(t, 2, 3)
	file := filepath.Join(dir, "a.anchx")
	requireOK(t, cli(t, "export", "--db", a, "--out", file, "-q"))

	r := cli(t, "verify", "--db", a)
	requireOK(t, r)
	require.Contains(t, r.stderr, "verify: checking")
	r = cli(t, "import", "--trust", file, "--db", filepath.Join(dir, "b.db"))
	requireOK(t, r)
	require.Contains(t, r.stderr, "import: checking")
	require.Regexp(t, `import: merging.*\d+/19`, r.stderr, "the total is the file's record count")
	require.Contains(t, r.stdout, "total")
	r = cli(t, "sync", "--trust", "--from", a, "--to", filepath.Join(dir, "c.db"))
	requireOK(t, r)
	require.Regexp(t, `sync.*\d+/19`, r.stderr)

	for _, extra := range []string{"-q", "--json"} {
		r = cli(t, "verify", "--db", a, extra)
		requireOK(t, r)
		require.Empty(t, r.stderr, extra)
		r = cli(t, "sync", "--trust", "--from", a, "--to", filepath.Join(dir, "d"+extra+".db"), extra)
		requireOK(t, r)
		require.Empty(t, r.stderr, extra)
		r = cli(t, "import", "--trust", file, "--db", filepath.Join(dir, "e"+extra+".db"), extra)
		requireOK(t, r)
		require.Empty(t, r.stderr, extra)
	}
}

func TestNewStoreBackendFromExtension(t *testing.T) {
	dir := t.TempDir()
	a, out := demoStore(t, 1, 2)
	file := filepath.Join(dir, "a.anchx")
	requireOK(t, cli(t, "export", "--db", a, "--out", file, "-q"))
	for _, name := range []string{"i.sqlite", "i.sqlite3", "i.db3"} {
		p := filepath.Join(dir, name)
		requireOK(t, cli(t, "import", "--trust", file, "--db", p, "-q"))
		requireSQLite(t, p)
	}
	s := filepath.Join(dir, "s.sqlite")
	requireOK(t, cli(t, "sync", "--trust", "--from", a, "--to", s, "-q"))
	requireSQLite(t, s)
	r := cli(t, "stats", "--db", s, "--json")
	requireOK(t, r)
	require.Contains(t, r.stdout, `"backend": "sqlite"`)
	requireOK(t, cli(t, "get", out.Root, "--db", "sqlite://"+s))
	// The demo, too, picks its backend from --db.
	d := filepath.Join(dir, "demo.sqlite")
	requireOK(t, cli(t, "demo", "--walkers", "1", "--edges", "1", "--db", d, "-q"))
	requireSQLite(t, d)
}

func requireSQLite(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte("SQLite format 3\x00")), "%s is not a SQLite file", path)
}

func TestSyncIntoItself(t *testing.T) {
	a, _ := demoStore(t, 1, 1)
	link := filepath.Join(t.TempDir(), "link.db")
	require.NoError(t, os.Symlink(a, link))
	before := freeze(t, a)
	for _, to := range []string{a, link, "bolt://" + a} {
		r := cli(t, "sync", "--trust", "--from", a, "--to", to)
		require.Equal(t, exitUsage, r.code, r.stderr)
		require.Contains(t, r.stderr, "--from and --to are the same store")
		require.NotContains(t, r.stderr, "locked")
	}
	requireUnchanged(t, a, before)
}

func TestExportRefusesToOverwrite(t *testing.T) {
	a, _ := demoStore(t, 1, 1)
	dir := t.TempDir()
	out := filepath.Join(dir, "x.anchx")
	require.NoError(t, os.WriteFile(out, []byte("keep me"), 0o600))
	r := cli(t, "export", "--db", a, "--out", out, "-q")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "exists (use --force")
	b, _ := os.ReadFile(out)
	require.Equal(t, "keep me", string(b))
	requireOK(t, cli(t, "export", "--db", a, "--out", out, "--force", "-q"))
	b, _ = os.ReadFile(out)
	require.NotEqual(t, "keep me", string(b))
	left, _ := os.ReadDir(dir)
	require.Len(t, left, 1, "no temporary file left: %v", left)

	r = cli(t, "export", "--db", a, "--out", filepath.Join(dir, "no", "such", "dir.anchx"), "-q")
	require.Equal(t, exitUsage, r.code)
	require.Contains(t, r.stderr, "no directory")
}

// TestLockedStoreTimeoutAndHint: a bolt store an application holds can't
// be opened; the message says why and what to do, and --timeout waits.
func TestLockedStoreTimeoutAndHint(t *testing.T) {
	path, _ := demoStore(t, 1, 1)
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer db.Close()
	r := cli(t, "stats", "--db", path, "--timeout", "50ms")
	require.Equal(t, exitFailed, r.code, r.stderr)
	require.Contains(t, r.stderr, "waited 50ms")
	for _, hint := range []string{"one process at a time", "--timeout", "SQLite", "export"} {
		require.Contains(t, r.stderr, hint)
	}
	require.Len(t, strings.Split(strings.TrimSpace(r.stderr), "\n"), 1)
}

// TestFieldDecodeErrorsHideMsgpack: a damaged field value is shown as
// damaged, without the decoder's internals; other fields still show.
func TestFieldDecodeErrorsHideMsgpack(t *testing.T) {
	require.NotContains(t, undecodable([]byte{0xc1, 1, 2}), "msgpack")
	require.Contains(t, undecodable([]byte{0xc1, 1, 2}), "3 bytes, starting c10102")

	path, out := demoStore(t, 1, 1)
	root := anchor.MustParseID(out.Root)
	boltUpdate(t, path, func(tx *bbolt.Tx) error {
		bk := tx.Bucket([]byte("anchors"))
		a, err := anchor.Unmarshal(root, bk.Get(root[:]))
		require.NoError(t, err)
		f := a.Fields["visits"]
		f.Value = []byte{0xc1} // never used in msgpack
		a.Fields["visits"] = f
		rec, err := anchor.Marshal(a)
		require.NoError(t, err)
		return bk.Put(root[:], rec)
	})
	r := cli(t, "get", out.Root, "--db", path)
	require.NotContains(t, r.stdout+r.stderr, "msgpack")
	require.NotContains(t, r.stdout+r.stderr, "invalid code")
	if r.code == 0 {
		require.Contains(t, r.stdout, "undecodable value")
		require.Contains(t, r.stdout, `"demo-user"`)
	}
}

func TestBenchChecksOutputsFirst(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.csv")
	require.NoError(t, os.WriteFile(existing, []byte("x"), 0o600))
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"--csv", filepath.Join(dir, "missing", "b.csv")}, "no directory"},
		{[]string{"--csv", dir}, "is a directory"},
		{[]string{"--csv", existing}, "exists (use --force"},
		{[]string{"--plot", filepath.Join(dir, "p.txt")}, "unknown format"},
		{[]string{"--plot", filepath.Join(dir, "missing", "p.svg")}, "no directory"},
		{[]string{"--dir", filepath.Join(dir, "missing")}, "not a directory"},
	}
	for _, c := range cases {
		// A 10-minute run: it must fail before it starts.
		args := append([]string{"bench", "--duration", "10m", "--walkers", "1", "--hub-sizes", "", "-q"}, c.args...)
		r := cli(t, args...)
		require.Equal(t, exitUsage, r.code, "%v: %s", c.args, r.stderr)
		require.Contains(t, r.stderr, c.msg, c.args)
	}
}

// TestStatsCountsHeldEdges: stats reports the replicated edges a store
// holds until an endpoint arrives, and none once it has.
func TestStatsCountsHeldEdges(t *testing.T) {
	path := filepath.Join(t.TempDir(), "held.db")
	s, err := bolt.Open(path, nil)
	require.NoError(t, err)
	owner := anchor.NewID()
	n := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "N", Created: 5, Updated: 5}
	m := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: owner, Type: "N", Created: 5, Updated: 5}
	e := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindEdge, Owner: owner, Type: "E", Source: n.ID, Target: m.ID, Created: 6, Updated: 6}
	_, err = s.Apply(t.Context(), &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{n, e}})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	stats := func() statsJSON {
		t.Helper()
		r := cli(t, "stats", "--db", path, "--json")
		requireOK(t, r)
		var st statsJSON
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &st), r.stdout)
		return st
	}
	require.Equal(t, 1, stats().HeldEdges)
	r := cli(t, "stats", "--db", path)
	requireOK(t, r)
	require.Contains(t, r.stdout, "held edges")

	s, err = bolt.Open(path, nil)
	require.NoError(t, err)
	_, err = s.Apply(t.Context(), &delta.Merge{From: anchor.NewID(), Anchors: []*anchor.Anchor{m}})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	st := stats()
	require.Zero(t, st.HeldEdges)
	require.Equal(t, 1, st.Edges)
}
