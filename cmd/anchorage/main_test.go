package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bbolt "go.etcd.io/bbolt"
	"go.uber.org/goleak"

	"github.com/anchorage-db/anchorage/anchor"
)

// bin is the anchorage binary built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "anchorage-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "anchorage")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building anchorage: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := pgtest.StopAfter(m).Run() // stops the shared PostgreSQL server
	os.RemoveAll(dir)
	if code == 0 {
		// In-process runs (TestDemoInProcess) must not leave goroutines.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

type result struct {
	stdout, stderr string
	code           int
}

// cli runs the built binary with args.
func cli(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{stdout.String(), stderr.String(), code}
}

func requireOK(t *testing.T, r result) {
	t.Helper()
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
}

// demoStore creates a small store with the demo and returns its path and
// the demo's user root.
func demoStore(t *testing.T, walkers, edges int) (string, demoOutput) {
	t.Helper()
	return demoStoreOn(t, "bolt", walkers, edges)
}

func demoStoreOn(t *testing.T, backendName string, walkers, edges int) (string, demoOutput) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "demo.db")
	r := cli(t, "demo", "--backend", backendName, "--walkers", fmt.Sprint(walkers), "--edges", fmt.Sprint(edges),
		"--db", path, "--no-sync", "--json", "-q")
	requireOK(t, r)
	var out demoOutput
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &out), r.stdout)
	return path, out
}

// fileState is what a read-only command must leave unchanged.
type fileState struct {
	data  []byte
	mtime time.Time
}

// freeze sets path's mtime into the past (so any write shows) and records
// its bytes and mtime.
func freeze(t *testing.T, path string) fileState {
	t.Helper()
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	require.NoError(t, os.Chtimes(path, past, past))
	return snapshot(t, path)
}

func snapshot(t *testing.T, path string) fileState {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	return fileState{data, fi.ModTime()}
}

func requireUnchanged(t *testing.T, path string, before fileState) {
	t.Helper()
	after := snapshot(t, path)
	require.True(t, bytes.Equal(before.data, after.data), "%s: contents changed", path)
	require.Equal(t, before.mtime, after.mtime, "%s: mtime changed", path)
}

func TestHelpOnEveryCommand(t *testing.T) {
	names := []string{""}
	for _, c := range commands() {
		names = append(names, c.Name())
	}
	require.Subset(t, names, []string{"demo", "bench", "verify", "stats", "get", "edges", "dot"})
	for _, c := range names {
		args := []string{"--help"}
		if c != "" {
			args = []string{c, "--help"}
		}
		r := cli(t, args...)
		requireOK(t, r)
		require.Contains(t, r.stdout, "Usage:", c)
	}
}

func TestDemoLosesWithNaiveNotWithAnchorage(t *testing.T) {
	r := cli(t, "demo", "--walkers", "4", "--edges", "5", "--no-sync", "-q")
	requireOK(t, r)
	require.Contains(t, r.stdout, "edges lost")
	require.Contains(t, r.stdout, "verify: clean")

	_, out := demoStore(t, 4, 5)
	require.Len(t, out.Results, 2)
	nv, an := out.Results[0], out.Results[1]
	require.Equal(t, "naive", nv.Strategy)
	require.Equal(t, "anchorage", an.Strategy)
	for _, res := range out.Results {
		require.Equal(t, 4*5+5, res.EdgesExpected)
		require.Equal(t, int64(4*5+2*5), res.Commits)
	}
	require.Positive(t, nv.EdgesLost, "the naive writer must lose edges, or the demo proves nothing")
	require.Zero(t, an.EdgesLost)
	require.Equal(t, an.EdgesExpected, an.EdgesStored)
	require.Equal(t, 5, an.VisitsStored)
	require.True(t, out.Verify.Clean)
}

// TestDemoInProcess runs the demo inside the test binary, so `go test
// -race` checks the command's own concurrency too.
func TestDemoInProcess(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"demo", "--walkers", "8", "--edges", "4", "--no-sync", "--db", filepath.Join(t.TempDir(), "x.db")}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	require.Contains(t, stdout.String(), "anchorage")
}

func TestInspectCommands(t *testing.T) {
	for _, b := range backendNames() {
		t.Run(b, func(t *testing.T) { testInspect(t, b) })
	}
}

func testInspect(t *testing.T, backendName string) {
	path, out := demoStoreOn(t, backendName, 2, 3)
	require.Equal(t, backendName, out.Backend)
	before := freeze(t, path)
	root := out.Root
	const edges = 2*3 + 3 // walkers' posts and the cascade walker's messages

	t.Run("stats", func(t *testing.T) {
		r := cli(t, "stats", "--db", path, "--json")
		requireOK(t, r)
		var st statsJSON
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &st))
		require.Equal(t, kindStats{Live: edges + 1}, st.Kinds["node"])
		require.Equal(t, kindStats{Live: edges}, st.Kinds["edge"])
		require.Equal(t, edges, st.Edges)
		require.Equal(t, 2*edges, st.Adjacency)
		require.Equal(t, 2*edges+1, st.LogEntries)
		require.GreaterOrEqual(t, st.LastSeq, uint64(st.LogEntries))
		require.Equal(t, map[string]int{"bolt": bolt.SchemaVersion, "sqlite": sqlite.SchemaVersion, "postgres": postgres.SchemaVersion}[backendName], st.Schema)
		require.Positive(t, st.FileBytes)
		require.Equal(t, backendName, st.Backend, "--backend auto tells the file's backend")
		require.NotEqual(t, anchor.SystemRoot.String(), st.StoreID)

		r = cli(t, "stats", "--db", path)
		requireOK(t, r)
		for _, want := range []string{"store id", "replica id", "schema version", "hlc", "file size", "change log", "tombstones"} {
			require.Contains(t, r.stdout, want)
		}
	})
	t.Run("get", func(t *testing.T) {
		r := cli(t, "get", root, "--db", path, "--json")
		requireOK(t, r)
		var a anchorJSON
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &a))
		require.Equal(t, root, a.ID)
		require.Equal(t, "node", a.Kind)
		require.Equal(t, "Root", a.Type)
		require.Equal(t, "demo-user", a.Fields["name"].Value)
		require.EqualValues(t, 3, a.Fields["visits"].Value)

		r = cli(t, "get", strings.ReplaceAll(root, "-", ""), "--db", path)
		requireOK(t, r)
		require.Contains(t, r.stdout, `"demo-user"`)
		require.Contains(t, r.stdout, "owner")
	})
	t.Run("edges", func(t *testing.T) {
		r := cli(t, "edges", root, "--db", path, "--json")
		requireOK(t, r)
		var rows []edgeJSON
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &rows))
		require.Len(t, rows, edges)
		types := map[string]int{}
		for _, e := range rows {
			require.Equal(t, "out", e.Dir)
			types[e.Type+"->"+e.PeerType]++
		}
		require.Equal(t, map[string]int{"Posted->Post": 6, "HasMessage->Message": 3}, types)

		// The edge's own record, and the peer's view of the edge.
		r = cli(t, "get", rows[0].Edge, "--db", path)
		requireOK(t, r)
		require.Contains(t, r.stdout, root+" -> "+rows[0].Peer)
		r = cli(t, "edges", rows[0].Peer, "--db", path)
		requireOK(t, r)
		require.Contains(t, r.stdout, "in ")
		require.Contains(t, r.stdout, root)
	})
	t.Run("dot", func(t *testing.T) {
		r := cli(t, "dot", root, "--db", path, "--depth", "1")
		requireOK(t, r)
		require.True(t, strings.HasPrefix(r.stdout, "digraph anchorage {"), r.stdout)
		require.Equal(t, edges, strings.Count(r.stdout, " -> "))
		require.Contains(t, r.stdout, `label="Root\n`+root[len(root)-8:]+`"`)
		require.Contains(t, r.stdout, `[label="Posted"]`)

		r = cli(t, "dot", root, "--db", path, "--depth", "0")
		requireOK(t, r)
		require.Zero(t, strings.Count(r.stdout, " -> "))

		r = cli(t, "dot", root, "--db", path, "--max-nodes", "3")
		requireOK(t, r)
		require.Contains(t, r.stderr, "max-nodes")
		r = cli(t, "dot", root, "--db", path, "--max-nodes", "3", "-q")
		requireOK(t, r)
		require.Empty(t, r.stderr, "-q keeps notes off stderr")

		// The old --root still works, with a deprecation note.
		r = cli(t, "dot", "--root", root, "--db", path, "--depth", "1")
		requireOK(t, r)
		require.Equal(t, edges, strings.Count(r.stdout, " -> "))
		require.Contains(t, r.stderr, "deprecated")
	})
	t.Run("verify", func(t *testing.T) {
		r := cli(t, "verify", "--db", path)
		requireOK(t, r)
		require.Contains(t, r.stdout, "clean")
		r = cli(t, "verify", "--db", path, "--backend", backendName, "--json")
		requireOK(t, r)
		var v verifyJSON
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &v))
		require.True(t, v.Clean)
		require.Equal(t, edges, v.Edges)
	})
	requireUnchanged(t, path, before)
}

// copyFile copies a store so a test can damage the copy.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dst, b, 0o600))
}

// boltUpdate edits a store file below Anchorage, to make damaged stores.
func boltUpdate(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(fn))
	require.NoError(t, db.Close())
}

func TestVerifyReportsProblems(t *testing.T) {
	path, out := demoStore(t, 1, 2)
	root := anchor.MustParseID(out.Root)
	// Drop one edge entry of the root from the index: its edge is left
	// without adjacency, and the index differs from its rebuild.
	boltUpdate(t, path, func(tx *bbolt.Tx) error {
		c := tx.Bucket([]byte("index")).Cursor()
		prefix := append([]byte{'e'}, root[:]...)
		k, _ := c.Seek(prefix)
		require.True(t, bytes.HasPrefix(k, prefix))
		return c.Delete()
	})
	before := freeze(t, path)
	r := cli(t, "verify", "--db", path)
	require.Equal(t, 1, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stdout, "2 PROBLEMS (")
	require.Contains(t, r.stdout, "edge-without-adjacency")
	require.Contains(t, r.stdout, "secondary-index")
	require.Contains(t, r.stderr, "verify: 2 problems found")

	r = cli(t, "verify", "--db", path, "--json")
	require.Equal(t, 1, r.code)
	var v verifyJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &v))
	require.False(t, v.Clean)
	require.Len(t, v.Problems, 2)
	require.Equal(t, "edge-without-adjacency", v.Problems[0].Kind)
	require.Equal(t, "secondary-index", v.Problems[1].Kind)
	requireUnchanged(t, path, before)
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	good, out := demoStore(t, 1, 2)
	root := out.Root

	text := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(text, []byte(strings.Repeat("not a store\n", 1000)), 0o600))
	empty := filepath.Join(dir, "empty.db")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	foreign := filepath.Join(dir, "foreign.db")
	boltUpdate(t, foreign, func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucket([]byte("someone-elses"))
		return err
	})
	newer := filepath.Join(dir, "newer.db")
	copyFile(t, good, newer)
	boltUpdate(t, newer, func(tx *bbolt.Tx) error {
		var v [4]byte
		binary.BigEndian.PutUint32(v[:], 99)
		return tx.Bucket([]byte("meta")).Put([]byte("schema"), v[:])
	})
	missing := filepath.Join(dir, "missing.db")
	unknown := anchor.NewID().String()

	files := []string{good, text, empty, foreign, newer}
	states := map[string]fileState{}
	for _, f := range files {
		states[f] = freeze(t, f)
	}

	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"missing file", []string{"stats", "--db", missing}, 2, "no store at " + missing},
		{"missing file get", []string{"get", root, "--db", missing}, 2, "no store at"},
		{"directory", []string{"verify", "--db", dir}, 2, "is a directory"},
		{"text file", []string{"stats", "--db", text}, 2, "not an anchorage store"},
		{"text file verify", []string{"verify", "--db", text}, 2, "not an anchorage store"},
		{"empty file", []string{"get", root, "--db", empty}, 2, "not an anchorage store"},
		{"foreign bolt file", []string{"edges", root, "--db", foreign}, 2, "not an anchorage store"},
		{"newer version", []string{"verify", "--db", newer}, 2, "unsupported format version"},
		{"newer version stats", []string{"stats", "--db", newer}, 2, "schema 99"},
		{"unknown id get", []string{"get", unknown, "--db", good}, 2, "no anchor " + unknown},
		{"unknown id edges", []string{"edges", unknown, "--db", good}, 2, "no anchor " + unknown},
		{"unknown id dot", []string{"dot", unknown, "--db", good}, 2, "no anchor " + unknown},
		{"malformed id get", []string{"get", "not-an-id", "--db", good}, 2, "invalid anchor id"},
		{"malformed id edges", []string{"edges", root[:35] + "g", "--db", good}, 2, "invalid anchor id"},
		{"malformed id dot", []string{"dot", "12", "--db", good}, 2, "invalid anchor id"},
		{"text file as sqlite", []string{"stats", "--db", text, "--backend", "sqlite"}, 2, "not an anchorage store"},
		{"bolt store as sqlite", []string{"verify", "--db", good, "--backend", "sqlite"}, 2, "not a SQLite database"},
		{"missing file sqlite", []string{"stats", "--db", missing, "--backend", "sqlite"}, 2, "no store at"},
		{"postgres backend with a path", []string{"stats", "--db", good, "--backend", "postgres"}, 2, "needs a connection string"},
		{"postgres demo without --db", []string{"demo", "--backend", "postgres", "-q"}, 2, "needs --db CONNECTION-STRING"},
		{"bench on postgres without a server", []string{"bench", "--backends", "postgres"}, 2, "needs --postgres CONNECTION-STRING"},
		{"unknown backend", []string{"verify", "--db", good, "--backend", "nope"}, 2, `unknown backend "nope"`},
		{"no --db", []string{"stats"}, 2, `"db" not set`},
		{"no id", []string{"get", "--db", good}, 2, "anchorage get takes 1 argument (ID), got 0; usage: anchorage get ID --db PATH"},
		{"no id edges", []string{"edges", "--db", good}, 2, "anchorage edges takes 1 argument (ID), got 0; usage: anchorage edges ID --db PATH"},
		{"no id dot", []string{"dot", "--db", good}, 2, "anchorage dot takes 1 argument (ID), got 0; usage: anchorage dot ID --db PATH"},
		{"no file import", []string{"import", "--db", good}, 2, "anchorage import takes 1 argument (FILE), got 0"},
		{"extra argument", []string{"stats", "x", "--db", good}, 2, "anchorage stats takes no arguments, got 1"},
		{"unknown flag", []string{"stats", "--db", good, "--frobnicate"}, 2, "unknown flag"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"bad walkers", []string{"demo", "--walkers", "0"}, 2, "at least 1"},
		{"bad bench walkers", []string{"bench", "--walkers", "1,x"}, 2, `"x" is not a whole number`},
		{"bad bench mode", []string{"bench", "--modes", "fast"}, 2, "unknown --modes"},
		{"demo on a text file", []string{"demo", "--db", text, "-q", "--walkers", "1", "--edges", "1"}, 2, "not an anchorage store"},
		{"demo on a newer store", []string{"demo", "--db", newer, "-q", "--walkers", "1", "--edges", "1"}, 2, "unsupported format version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, tc.args...)
			require.Equal(t, tc.code, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			require.Contains(t, r.stderr, tc.msg)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			require.Len(t, lines, 1, "want a one-line error, got:\n%s", r.stderr)
			require.True(t, strings.HasPrefix(lines[0], "anchorage: "), lines[0])
		})
	}
	for _, f := range files {
		requireUnchanged(t, f, states[f])
	}
	_, err := os.Stat(missing)
	require.ErrorIs(t, err, os.ErrNotExist, "a read-only command created the missing store")
}

// TestLockedStore: a store another process holds for writing is reported
// as locked (an operational failure, exit 1), and left alone.
func TestLockedStore(t *testing.T) {
	path, out := demoStore(t, 1, 1)
	db, err := bbolt.Open(path, 0o600, nil) // holds the exclusive lock
	require.NoError(t, err)
	defer db.Close()
	r := cli(t, "get", out.Root, "--db", path)
	require.Equal(t, 1, r.code, r.stdout+r.stderr)
	require.Contains(t, r.stderr, "locked by another process")
}
