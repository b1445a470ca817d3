package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
)

// TestSyncRefusedUntilClockAllows: records stamped an hour ahead make sync
// exit 1 and list them; a second sync still refuses them (nothing is
// skipped past them); a sync whose bound allows them delivers them all.
func TestSyncRefusedUntilClockAllows(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	s, err := bolt.Open(a, &bolt.Options{Now: func() time.Time { return time.Now().Add(time.Hour) }})
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	require.NoError(t, s.Close())

	for range 2 {
		r := cli(t, "sync", "--trust", "--from", a, "--to", b)
		require.Equal(t, 1, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
		require.Contains(t, r.stdout, "refused "+root.String())
		require.Contains(t, r.stderr, "1 record refused")
	}
	r := cli(t, "sync", "--trust", "--from", a, "--to", b, "--max-skew", "2h", "--json")
	requireOK(t, r)
	var im importJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &im), r.stdout)
	require.Equal(t, 1, im.Total.Inserted)
	require.Zero(t, im.Later)
	requireOK(t, cli(t, "get", root.String(), "--db", b))
}

// TestImportAsFlags: import and sync need --as or --trust (no default:
// without either they are usage errors that touch nothing); --as takes a
// root ID, and excludes --trust.
func TestImportAsFlags(t *testing.T) {
	dir := t.TempDir()
	a, _ := demoStore(t, 1, 1)
	b := filepath.Join(dir, "b.db")
	file := filepath.Join(dir, "a.anchx")
	requireOK(t, cli(t, "export", "--db", a, "--out", file, "-q"))
	for _, args := range [][]string{{"sync", "--from", a, "--to", b}, {"sync", "--follow", "--from", a, "--to", b}, {"import", file, "--db", b}} {
		r := cli(t, args...)
		require.Equal(t, 2, r.code, "%v: %s", args, r.stderr)
		require.Contains(t, r.stderr, "say who the merge acts as")
		require.True(t, strings.HasPrefix(r.stderr, "anchorage: "+args[0]+": "), r.stderr)
		_, err := os.Stat(b)
		require.ErrorIs(t, err, os.ErrNotExist, "%v created the store", args)
	}
	r := cli(t, "sync", "--from", a, "--to", b, "--as", "nobody")
	require.Equal(t, 2, r.code, r.stderr)
	require.Contains(t, r.stderr, "not a root ID")
	r = cli(t, "sync", "--from", a, "--to", b, "--as", anchor.NewID().String(), "--trust")
	require.Equal(t, 2, r.code, r.stderr)
	r = cli(t, "sync", "--from", a, "--to", b, "--as", anchor.NewID().String())
	require.Equal(t, 1, r.code, "records of other roots are refused: %s", r.stdout)
	require.Contains(t, r.stdout, "may not create")
	requireOK(t, cli(t, "sync", "--from", a, "--to", b, "--trust", "-q"))
}

// TestSyncReidentify: a cp copy cannot sync with its original; sync
// --reidentify moves it into a new store that can.
func TestSyncReidentify(t *testing.T) {
	dir := t.TempDir()
	a, _ := demoStore(t, 1, 2)
	c, fresh := filepath.Join(dir, "copy.db"), filepath.Join(dir, "fresh.db")
	copyFile(t, a, c)
	r := cli(t, "sync", "--trust", "--from", c, "--to", a)
	require.NotEqual(t, 0, r.code)
	require.Contains(t, r.stderr, "copy made with cp")
	r = cli(t, "sync", "--from", c, "--to", fresh, "--reidentify")
	requireOK(t, r)
	require.Contains(t, r.stdout, "its own identity")
	requireOK(t, cli(t, "sync", "--trust", "--from", fresh, "--to", a, "-q"))
	requireOK(t, cli(t, "sync", "--trust", "--from", a, "--to", fresh, "-q"))
}
