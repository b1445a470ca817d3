package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage"
	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/tiered"
)

// deletedHubStore creates a store holding a root, one live edge and a
// deleted hub that had n edges with padded fields.
func deletedHubStore(t *testing.T, path string, n int) {
	t.Helper()
	ctx := context.Background()
	s, err := anchorage.Open(path)
	require.NoError(t, err)
	defer s.Close()
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	m := tiered.New(s, root, nil)
	hub, err := m.Create(anchor.KindNode, "Hub", nil)
	require.NoError(t, err)
	for i := range n {
		p, err := m.Create(anchor.KindNode, "Peer", nil)
		require.NoError(t, err)
		_, err = m.Connect(ctx, hub, p, "Link", map[string]any{"i": i, "pad": strings.Repeat("x", 300)})
		require.NoError(t, err)
	}
	require.NoError(t, m.Commit(ctx))
	m = tiered.New(s, root, nil)
	require.NoError(t, m.Delete(ctx, hub))
	require.NoError(t, m.Commit(ctx))
}

// TestPurgeAndCompactCommands: purge needs a horizon, removes the deleted
// hub's tombstones, and compact gives the space back; verify stays clean.
func TestPurgeAndCompactCommands(t *testing.T) {
	for _, file := range []string{"s.db", "s.sqlite"} {
		t.Run(file, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), file)
			const n = 800
			deletedHubStore(t, path, n)
			time.Sleep(5 * time.Millisecond)

			r := cli(t, "purge", "--db", path, "-q")
			require.Equal(t, exitUsage, r.code, r.stderr)
			require.Contains(t, r.stderr, "--older-than")
			r = cli(t, "purge", "--db", filepath.Join(t.TempDir(), "missing.db"), "--older-than", "1h", "-q")
			require.Equal(t, exitUsage, r.code, r.stderr)

			r = cli(t, "purge", "--db", path, "--older-than", "1h", "--json", "-q")
			requireOK(t, r)
			var p purgeJSON
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &p), r.stdout)
			require.Zero(t, p.Candidates, "nothing was deleted an hour ago")

			r = cli(t, "purge", "--db", path, "--older-than", "1ms", "--chunk", "300", "--json", "-q")
			requireOK(t, r)
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &p), r.stdout)
			require.Equal(t, n+1, p.Candidates, "the hub and its edges")
			require.Equal(t, n+1, p.Purged)
			require.Equal(t, 3, p.Chunks)
			require.Positive(t, p.HorizonSeq)

			r = cli(t, "stats", "--db", path, "--json", "-q")
			requireOK(t, r)
			var sj statsJSON
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &sj), r.stdout)
			require.Equal(t, p.HorizonSeq, sj.PurgedSeq)
			require.NotEmpty(t, sj.PurgedTime)
			require.Zero(t, sj.Kinds["edge"].Tombstones)

			r = cli(t, "compact", "--db", path, "--json", "-q")
			requireOK(t, r)
			var c compactJSON
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &c), r.stdout)
			require.Less(t, c.After, c.Before, "compaction shrinks the file")
			r = cli(t, "compact", "--db", path)
			requireOK(t, r)
			require.Contains(t, r.stdout, "compacted")

			r = cli(t, "verify", "--db", path, "--json", "-q")
			requireOK(t, r)
			var v verifyJSON
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &v))
			require.True(t, v.Clean)
			require.Zero(t, v.Tombstones)
			require.Equal(t, 1+n, v.Anchors, "the root and the peers")
		})
	}
}

// TestPurgeBoundedByReplicaCommand: with --replica, purge removes only
// what the replica has imported, and refuses a replica that never synced.
func TestPurgeBoundedByReplicaCommand(t *testing.T) {
	dir := t.TempDir()
	src, rep := filepath.Join(dir, "src.db"), filepath.Join(dir, "rep.db")
	const n = 50
	deletedHubStore(t, src, n)
	time.Sleep(5 * time.Millisecond)
	requireOK(t, cli(t, "sync", "--from", src, "--to", rep, "--trust", "-q"))
	never := filepath.Join(dir, "never.db")
	requireOK(t, cli(t, "demo", "--walkers", "1", "--edges", "1", "--db", never, "-q"))

	r := cli(t, "purge", "--db", src, "--older-than", "1ms", "--replica", rep, "--replica", never, "-q")
	require.Equal(t, exitFailed, r.code, r.stderr)
	require.Contains(t, r.stderr, "has not imported from this source")

	r = cli(t, "purge", "--db", src, "--older-than", "1ms", "--replica", rep, "--json", "-q")
	requireOK(t, r)
	var p purgeJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &p), r.stdout)
	require.Equal(t, n+1, p.Purged, "the replica imported the delete")
	require.Positive(t, p.Replicated)
	require.LessOrEqual(t, p.HorizonSeq, p.Replicated)
	requireOK(t, cli(t, "sync", "--from", src, "--to", rep, "--trust", "-q"))
}
