package sqlite_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	msqlite "modernc.org/sqlite"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/internal/childproc"
	"github.com/anchorage-db/anchorage/tiered"
)

type childConfig struct {
	Path    string
	Root    anchor.ID
	Walkers int // goroutines, each with its own tiered.Memory
	Per     int // commits per walker
	Sync    sqlite.Synchronous
	NoGroup bool
	// CPUProfile, if set, is a file the child writes its CPU profile of
	// the timed work to.
	CPUProfile string
}

type childResult struct {
	Commits int
	Busy    int      // errors wrapping anchor.ErrBusy
	Raw     int      // errors carrying a raw SQLite error (e.g. "database is locked")
	Errors  []string // the first few errors of any kind
	NErrors int
	Start   int64   // unix nanos: first commit began
	End     int64   // unix nanos: last commit answered
	Lat     []int64 // microseconds each acknowledged commit took, in no order
}

// TestMultiProcessChild is the child role of TestMultiProcess and
// BenchmarkProcesses; run directly it skips.
func TestMultiProcessChild(t *testing.T) {
	cfgJSON, ok := childproc.Role() // the JSON childConfig of the work to do
	if !ok {
		t.Skip("child role of TestMultiProcess; runs only when started by it")
	}
	var cfg childConfig
	require.NoError(t, json.Unmarshal([]byte(cfgJSON), &cfg))
	s, err := sqlite.Open(cfg.Path, &sqlite.Options{Synchronous: cfg.Sync, NoGroupCommit: cfg.NoGroup})
	require.NoError(t, err)
	defer s.Close()
	fmt.Println("READY")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "GO\n", line)
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		require.NoError(t, err)
		require.NoError(t, pprof.StartCPUProfile(f))
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	res := runWalkers(s, cfg.Root, cfg.Walkers, cfg.Per)
	out, err := json.Marshal(res)
	require.NoError(t, err)
	fmt.Printf("RESULT %s\n", out)
}

// runWalkers runs walkers goroutines, each committing per times one new
// node with an edge from root, through its own tiered.Memory.
func runWalkers(s *sqlite.Store, root anchor.ID, walkers, per int) childResult {
	var (
		mu  sync.Mutex
		res childResult
		wg  sync.WaitGroup
	)
	record := func(err error, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			res.Commits++
			res.Lat = append(res.Lat, took.Microseconds())
			return
		}
		res.NErrors++
		if errors.Is(err, anchor.ErrBusy) {
			res.Busy++
		}
		var se *msqlite.Error
		if errors.As(err, &se) {
			res.Raw++
		}
		if len(res.Errors) < 10 {
			res.Errors = append(res.Errors, err.Error())
		}
	}
	res.Start = time.Now().UnixNano()
	for range walkers {
		wg.Go(func() {
			m := tiered.New(s, anchor.NewID(), nil)
			if _, err := m.Get(context.Background(), root); err != nil {
				record(err, 0)
				return
			}
			for i := range per {
				t0 := time.Now()
				err := commitEdge(m, root, i)
				record(err, time.Since(t0))
			}
		})
	}
	wg.Wait()
	res.End = time.Now().UnixNano()
	return res
}

// commitEdge is one benchmark operation: create a node, connect it to
// root, commit; then drop both from L1 so the walker's memory stays small.
func commitEdge(m *tiered.Memory, root anchor.ID, i int) error {
	n, err := m.Create(anchor.KindNode, "Item", map[string]any{"i": i})
	if err != nil {
		return err
	}
	e, err := m.Connect(context.Background(), root, n, "Has", nil)
	if err != nil {
		return err
	}
	if err := m.Commit(context.Background()); err != nil {
		m.Forget(n)
		m.Forget(e)
		return err
	}
	m.Forget(n)
	m.Forget(e)
	return nil
}

// sharedStore creates a store with a root node every walker may connect
// to, for processes to share, and returns its path and the root, closed.
func sharedStore(t testing.TB, opts sqlite.Options) (string, anchor.ID) {
	path := filepath.Join(t.TempDir(), "shared.sqlite")
	s, err := sqlite.Open(path, &opts)
	require.NoError(t, err)
	root := backendtest.NewRootNode(t, s, anchor.Access{All: anchor.Connect})
	require.NoError(t, s.Close())
	return path, root
}

// runProcesses runs procs child processes of this test binary against the
// store at cfg.Path, starts their work at the same moment, and returns what
// each reported.
func runProcesses(t testing.TB, procs int, cfg childConfig) []childResult {
	t.Helper()
	return runProcessesWith(t, procs, cfg, nil, nil)
}

// runProcessesWith is runProcesses with edit, if not nil, changing the
// config of child i before it starts, and during, if not nil, called once
// the children have started their work, with a function that kills child
// i (SIGKILL); a killed child's result is left zero.
func runProcessesWith(t testing.TB, procs int, cfg childConfig, edit func(i int, c *childConfig), during func(kill func(i int))) []childResult {
	t.Helper()
	type child struct {
		cmd    *exec.Cmd
		stdin  io.WriteCloser
		lines  *bufio.Scanner
		stderr bytes.Buffer
	}
	children := make([]*child, procs)
	for i := range children {
		ci := cfg
		if edit != nil {
			edit(i, &ci)
		}
		cfgJSON, err := json.Marshal(ci)
		require.NoError(t, err)
		c := &child{cmd: childproc.Command(t, "TestMultiProcessChild", string(cfgJSON))}
		c.cmd.Stderr = &c.stderr
		c.stdin, err = c.cmd.StdinPipe()
		require.NoError(t, err)
		out, err := c.cmd.StdoutPipe()
		require.NoError(t, err)
		c.lines = bufio.NewScanner(out)
		require.NoError(t, c.cmd.Start())
		t.Cleanup(func() { c.cmd.Process.Kill(); c.cmd.Wait() })
		children[i] = c
	}
	expect := func(c *child, prefix string) string {
		for c.lines.Scan() {
			if rest, ok := strings.CutPrefix(c.lines.Text(), prefix); ok {
				return rest
			}
		}
		c.cmd.Wait()
		t.Fatalf("child %d ended without %q: %v\nstderr:\n%s", c.cmd.Process.Pid, prefix, c.lines.Err(), c.stderr.String())
		return ""
	}
	for _, c := range children {
		expect(c, "READY")
	}
	for _, c := range children {
		_, err := io.WriteString(c.stdin, "GO\n")
		require.NoError(t, err)
	}
	killed := make(map[int]bool)
	if during != nil {
		during(func(i int) {
			require.NoError(t, children[i].cmd.Process.Kill())
			killed[i] = true
		})
	}
	results := make([]childResult, procs)
	for i, c := range children {
		if killed[i] {
			c.cmd.Wait()
			continue
		}
		require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(expect(c, "RESULT "))), &results[i]))
		for c.lines.Scan() {
		}
		if err := c.cmd.Wait(); err != nil {
			t.Fatalf("child %d: %v\nstderr:\n%s", i, err, c.stderr.String())
		}
	}
	return results
}

// TestMultiProcess: four OS processes, each with 16 walkers, each walker
// adding edges to one shared root node through its own tiered.Memory, all
// on one database file. Every committed edge must be there afterwards, the
// store must verify clean, and no caller may ever have seen a busy or
// "database is locked" error (the callers have no deadline).
//
// It uses SyncNormal to stay well within CI time under -race on two cores;
// locking and retries are the same as with SyncFull.
func TestMultiProcess(t *testing.T) {
	const procs, walkers, per = 4, 16, 125 // 2,000 edges per process
	opts := sqlite.Options{Synchronous: sqlite.SyncNormal}
	path, root := sharedStore(t, opts)

	start := time.Now()
	results := runProcesses(t, procs, childConfig{Path: path, Root: root, Walkers: walkers, Per: per, Sync: opts.Synchronous})
	t.Logf("children done after %s", time.Since(start))
	t.Logf("%d processes x %d walkers x %d commits in %s", procs, walkers, per, time.Since(start).Round(time.Millisecond))
	for i, r := range results {
		t.Logf("process %d: %d commits, %d errors (%d busy, %d raw SQLite) in %s", i, r.Commits, r.NErrors, r.Busy, r.Raw,
			time.Duration(r.End-r.Start).Round(time.Millisecond))
		for _, e := range r.Errors {
			t.Errorf("process %d: %s", i, e)
		}
		require.Equal(t, walkers*per, r.Commits, "process %d", i)
		require.Zero(t, r.NErrors, "process %d", i)
	}

	t0 := time.Now()
	s, err := sqlite.Open(path, &opts)
	require.NoError(t, err)
	defer s.Close()
	t.Logf("reopen %s", time.Since(t0))
	defer func() { t.Logf("check %s", time.Since(t0)) }()
	require.Equal(t, procs*walkers*per, backendtest.EdgeCount(t, s, root), "edges lost")
	rep := backendtest.RequireClean(t, s)
	require.Equal(t, 1+2*procs*walkers*per, rep.Anchors)
	require.Equal(t, rep.Anchors, rep.LogEntries)
	require.Equal(t, uint64(rep.LogEntries), backendtest.Meta(t, s).Seq, "sequence numbers come from the database, never repeat")
}
