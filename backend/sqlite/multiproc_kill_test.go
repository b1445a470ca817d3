package sqlite_test

import (
	"encoding/binary"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// TestMultiProcessKilledWriters: eight processes commit through the lock
// file's queue, and three of them are killed (SIGKILL) while they work,
// each waiting in the queue with a ticket, holding the lock, or between
// commits. The kernel drops a dead process's locks, so the other five
// finish every commit with no error, and the store verifies clean with
// every edge they were told of.
func TestMultiProcessKilledWriters(t *testing.T) {
	const procs, per = 8, 150
	opts := sqlite.Options{Synchronous: sqlite.SyncNormal}
	path, root := sharedStore(t, opts)

	victims := []int{1, 4, 6}
	results := runProcessesWith(t, procs, childConfig{Path: path, Root: root, Walkers: 1, Per: per, Sync: opts.Synchronous}, nil,
		func(kill func(int)) {
			for _, i := range victims {
				time.Sleep(50 * time.Millisecond)
				kill(i)
			}
		})
	acknowledged := 0
	for i, r := range results {
		if slices.Contains(victims, i) {
			continue
		}
		for _, e := range r.Errors {
			t.Errorf("process %d: %s", i, e)
		}
		require.Equal(t, per, r.Commits, "process %d", i)
		acknowledged += r.Commits
	}
	require.Equal(t, (procs-len(victims))*per, acknowledged)
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile(path + sqlite.LockSuffix)
		require.NoError(t, err)
		require.GreaterOrEqual(t, len(b), 8)
		require.Positive(t, binary.LittleEndian.Uint64(b), "the writers queued: tickets were taken")
	}

	s, err := sqlite.Open(path, &opts)
	require.NoError(t, err)
	defer s.Close()
	require.GreaterOrEqual(t, backendtest.EdgeCount(t, s, root), acknowledged, "edges lost")
	backendtest.RequireClean(t, s)
}
