package postgres_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/internal/childproc"
)

// TestChangeLogFollowers: writers in 4 processes create anchors (one commit
// each) while this process follows the change log as Export does: each
// round reads the entries after its cursor in one snapshot and moves the
// cursor to the last one. Every committed change must be read exactly
// once: sequence numbers arrive without a gap and without a repeat, and
// the anchors read are exactly those whose commit returned nil. 2,000
// commits by default, 10,000 with ANCHORAGE_SOAK set.
func TestChangeLogFollowers(t *testing.T) {
	if role, ok := childproc.Role(); ok {
		followWriter(t, role)
		return
	}
	const procs, walkers = 4, 8
	per := 500
	if os.Getenv("ANCHORAGE_SOAK") != "" {
		per = 2500
	}
	server := pgtest.Shared(t)
	schema := server.NewSchema(t)
	s, err := postgres.Open(server.DSN("postgres"), &postgres.Options{Schema: schema})
	require.NoError(t, err)
	defer s.Close()
	root := backendtest.NewRootNode(t, s, anchor.Access{})

	committed := map[anchor.ID]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, procs)
	for p := range procs {
		cmd := childproc.Command(t, t.Name(), fmt.Sprintf("%d", p), "FOLLOW_DSN="+server.DSN("postgres"), "FOLLOW_SCHEMA="+schema,
			"FOLLOW_ROOT="+root.String(), fmt.Sprintf("FOLLOW_N=%d", per), fmt.Sprintf("FOLLOW_WALKERS=%d", walkers))
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		cmd.Stderr = os.Stderr
		require.NoError(t, cmd.Start())
		wg.Go(func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if id, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
					aid, err := anchor.ParseID(id)
					if err != nil {
						errs <- err
						continue
					}
					mu.Lock()
					committed[aid] = true
					mu.Unlock()
				}
			}
			errs <- cmd.Wait()
		})
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()

	seen := map[anchor.ID]uint64{}
	var cursor uint64
	rounds := 0
	follow := func() {
		rounds++
		require.NoError(t, s.View(context.Background(), func(v backend.View) error {
			return v.Changes(cursor, func(seq uint64, id anchor.ID) error {
				if seq != cursor+1 {
					return fmt.Errorf("read %d after %d: %d skipped", seq, cursor, seq-cursor-1)
				}
				if prev, dup := seen[id]; dup {
					return fmt.Errorf("anchor %s read at %d and again at %d", id, prev, seq)
				}
				seen[id], cursor = seq, seq
				return nil
			})
		}))
	}
	for done := false; !done; {
		select {
		case <-writersDone:
			done = true
		default:
			time.Sleep(time.Millisecond)
		}
		follow()
	}
	follow()
	for range procs {
		require.NoError(t, <-errs)
	}
	require.Len(t, committed, procs*per)
	delete(seen, root)
	skipped, extra := 0, 0
	for id := range committed {
		if _, ok := seen[id]; !ok {
			skipped++
		}
	}
	for id := range seen {
		if !committed[id] {
			extra++
		}
	}
	t.Logf("%d commits by %d processes x %d walkers, followed in %d rounds: %d read, %d skipped, %d never committed", procs*per, procs, walkers, rounds, len(seen), skipped, extra)
	require.Zero(t, skipped)
	require.Zero(t, extra)
	require.Len(t, seen, procs*per)
}

// followWriter is one writer process: FOLLOW_WALKERS goroutines create
// FOLLOW_N nodes between them, one commit each, printing each committed ID.
func followWriter(t *testing.T, role string) {
	s, err := postgres.Open(os.Getenv("FOLLOW_DSN"), &postgres.Options{Schema: os.Getenv("FOLLOW_SCHEMA")})
	require.NoError(t, err)
	defer s.Close()
	root, err := anchor.ParseID(os.Getenv("FOLLOW_ROOT"))
	require.NoError(t, err)
	n, _ := strconv.Atoi(os.Getenv("FOLLOW_N"))
	walkers, _ := strconv.Atoi(os.Getenv("FOLLOW_WALKERS"))
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var wg sync.WaitGroup
	for w := range walkers {
		wg.Go(func() {
			for i := w; i < n; i += walkers {
				a := &anchor.Anchor{ID: anchor.NewID(), Kind: anchor.KindNode, Owner: root, Type: "Item"}
				_, err := s.Apply(context.Background(), &delta.Batch{Root: root, Changes: []delta.Change{{ID: a.ID, Create: a}}})
				if err != nil {
					t.Errorf("writer %s: %v", role, err)
					return
				}
				mu.Lock()
				fmt.Fprintf(out, "committed %s\n", a.ID)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}
