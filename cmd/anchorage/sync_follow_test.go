package main

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/replica"
	"github.com/anchorage-db/anchorage/tiered"
)

// TestSyncFollowSurvivesSIGKILL: sync --follow killed with SIGKILL at
// random moments mid-stream (5 times; 20 under ANCHORAGE_SOAK) never moves
// the cursor back (each run resumes after the last applied chunk), and a
// final sync leaves the destination with every record of the source.
func TestSyncFollowSurvivesSIGKILL(t *testing.T) {
	kills := 5
	if os.Getenv("ANCHORAGE_SOAK") != "" {
		kills = 20
	}
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	s, err := bolt.Open(a, &bolt.Options{NoSync: true})
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{})
	for range 10 {
		m := tiered.New(s, root, nil)
		for i := range 300 {
			n, err := m.Create(anchor.KindNode, "N", map[string]any{"i": i})
			require.NoError(t, err)
			_, err = m.Connect(context.Background(), root, n, "Has", nil)
			require.NoError(t, err)
		}
		require.NoError(t, m.Commit(context.Background()))
	}
	srcID, srcSeq := backendtest.Meta(t, s).StoreID, backendtest.Meta(t, s).Seq
	require.NoError(t, s.Close())

	through := func() uint64 {
		if _, err := os.Stat(b); err != nil {
			return 0
		}
		st, err := bolt.Open(b, nil)
		require.NoError(t, err)
		defer st.Close()
		cur, _, err := replica.ReadCursor(context.Background(), st, srcID)
		require.NoError(t, err)
		return cur.Through
	}
	rng := rand.New(rand.NewPCG(7, 7))
	last, moved, slow := uint64(0), 0, time.Duration(1)
	for k := range kills {
		cmd := exec.Command(bin, "sync", "--trust", "--follow", "--from", a, "--to", b, "--chunk", "40", "--interval", "5ms", "-q")
		require.NoError(t, cmd.Start())
		// A random moment mid-stream; longer after a run that got nowhere
		// (a loaded machine starts the process slowly).
		time.Sleep(slow * time.Duration(100+rng.IntN(300)) * time.Millisecond)
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		now := through()
		require.GreaterOrEqual(t, now, last, "kill %d: the cursor moved back", k)
		if now > last {
			moved, slow = moved+1, 1
		} else {
			slow = min(2*slow, 16)
		}
		last = now
	}
	require.Positive(t, moved, "the follower made progress between kills")
	st, err := bolt.Open(a, nil)
	require.NoError(t, err)
	after := 0
	require.NoError(t, st.View(context.Background(), func(v backend.View) error {
		return v.Changes(last, func(uint64, anchor.ID) error { after++; return nil })
	}))
	require.NoError(t, st.Close())
	r := cli(t, "sync", "--trust", "--from", a, "--to", b, "--json")
	requireOK(t, r)
	var im importJSON
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &im), r.stdout)
	require.Equal(t, after, im.Records, "the final sync sends exactly what follows the resume point")
	require.Equal(t, srcSeq, through())
	requireOK(t, cli(t, "verify", "--db", b))
	count := func(path string) (n int) {
		st, err := bolt.Open(path, nil)
		require.NoError(t, err)
		defer st.Close()
		require.NoError(t, st.View(context.Background(), func(v backend.View) error {
			return v.Anchors(func(anchor.ID, *anchor.Anchor, error) error { n++; return nil })
		}))
		return n
	}
	require.Equal(t, count(a), count(b))
}
