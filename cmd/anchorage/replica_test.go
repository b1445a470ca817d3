package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExportImportSync(t *testing.T) {
	dir := t.TempDir()
	a, out := demoStore(t, 2, 3)
	file := filepath.Join(dir, "a.anchx")
	aState := freeze(t, a)
	r := cli(t, "export", "--db", a, "--out", file, "--chunk", "4", "--json", "-q")
	requireOK(t, r)
	requireUnchanged(t, a, aState) // export reads only
	var ex exportJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &ex), r.stdout)
	require.Positive(t, ex.Records)
	require.Greater(t, ex.Chunks, 1)

	b := filepath.Join(dir, "b.db")
	r = cli(t, "import", "--trust", file, "--db", b, "--json", "-q")
	requireOK(t, r)
	var im importJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &im), r.stdout)
	require.Equal(t, ex.Records, im.Total.Inserted)
	require.Equal(t, ex.Chunks, im.Chunks)
	requireOK(t, cli(t, "verify", "--db", b))

	// The root has the same edges on both stores.
	ea, eb := cli(t, "edges", out.Root, "--db", a, "--json"), cli(t, "edges", out.Root, "--db", b, "--json")
	requireOK(t, ea)
	requireOK(t, eb)
	require.JSONEq(t, ea.stdout, eb.stdout)

	// Again: nothing new.
	r = cli(t, "import", "--trust", file, "--db", b, "--json", "-q")
	requireOK(t, r)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &im))
	require.Zero(t, im.Chunks)
	require.Equal(t, ex.Chunks, im.Resumed)

	// sync a -> c creates c; a second sync finds nothing new.
	c := filepath.Join(dir, "c.db")
	r = cli(t, "sync", "--trust", "--from", a, "--to", c, "--json")
	requireOK(t, r)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &im))
	require.Equal(t, ex.Records, im.Total.Inserted)
	r = cli(t, "sync", "--trust", "--from", a, "--to", c, "--json")
	requireOK(t, r)
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &im))
	require.Zero(t, im.Records)
	// A human-readable run prints the counters table.
	r = cli(t, "sync", "--trust", "--from", c, "--to", a)
	requireOK(t, r)
	require.Contains(t, r.stdout, "inserted")
}

func TestImportBadFilesLeaveStoreUntouched(t *testing.T) {
	dir := t.TempDir()
	a, _ := demoStore(t, 1, 2)
	b, _ := demoStore(t, 1, 1)
	file := filepath.Join(dir, "a.anchx")
	requireOK(t, cli(t, "export", "--db", a, "--out", file, "--chunk", "2", "-q"))
	good, err := os.ReadFile(file)
	require.NoError(t, err)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o600))
		return p
	}
	flip := append([]byte(nil), good...)
	flip[len(flip)-20] ^= 0x01
	newer := append([]byte(nil), good...)
	newer[9]++
	bState := freeze(t, b)
	missingStore := filepath.Join(dir, "never-created.db")
	for _, tc := range []struct {
		name, file, msg string
	}{
		{"garbage", write("g.anchx", []byte("this is not an export file at all")), "not an anchorage export file"},
		{"truncated", write("t.anchx", good[:len(good)*2/3]), "truncated"},
		{"bit flip", write("f.anchx", flip), "corrupt data"},
		{"newer format", write("n.anchx", newer), "export format"},
		{"missing", filepath.Join(dir, "absent.anchx"), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, "import", "--trust", tc.file, "--db", b, "-q")
			require.Equal(t, 2, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			require.Contains(t, r.stderr, tc.msg)
			r = cli(t, "import", "--trust", tc.file, "--db", missingStore, "-q")
			require.Equal(t, 2, r.code)
		})
	}
	requireUnchanged(t, b, bState)
	_, err = os.Stat(missingStore)
	require.ErrorIs(t, err, os.ErrNotExist, "a refused import created the store")
	r := cli(t, "export", "--db", a)
	require.Equal(t, 2, r.code)
	require.Contains(t, r.stderr, "--out")
}
