package racetests

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/internal/childproc"
	"github.com/anchorage-db/anchorage/internal/naive"
)

const multiProcesses = 3

type childConfig struct {
	Strategy string // "naive", "sqlite" or "postgres"
	Path     string // the naive document directory, the SQLite file, or the PostgreSQL DSN
	Schema   string // the PostgreSQL schema
	Root     anchor.ID
	Index    int
	Touchers int  // touching walkers in this process
	Adder    bool // this process also runs the adding walker
	History  string
}

// TestMultiProcess (scenario 6) is scenario 1, the minimal repro, with the
// walkers spread over 3 OS processes sharing one database, as the broken
// runtime's worker processes shared theirs. The test binary re-executes
// itself (internal/childproc: TestMultiProcessChild, in the role of a JSON
// childConfig); the parent drives the rounds through pipes so the schedule
// is the same as in one process: every walker of every process loads the
// root, then the adder commits its item while half the touchers commit,
// then the other half commit stale copies. The naive writer shares a
// directory of whole documents (each write replaces a file) and loses the
// item edge every round; the engine on SQLite (WAL, one writer per
// process) keeps every one.
func TestMultiProcess(t *testing.T) {
	t.Run("naive", func(t *testing.T) { multiProcess(t, "naive") })
	t.Run("sqlite", func(t *testing.T) { multiProcess(t, "sqlite") })
	t.Run("postgres", func(t *testing.T) { multiProcess(t, "postgres") })
}

// child is one re-executed test binary.
type child struct {
	index  int
	cmd    *exec.Cmd
	cmds   *os.File    // parent -> child commands
	events chan string // child -> parent events, closed at EOF
	out    *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func multiProcess(t *testing.T, strategy string) {
	work := t.TempDir()
	var g graph
	var path, schema string
	var rec *recorder
	switch strategy {
	case "postgres":
		h := backendtest.New(t, pgOpener(postgres.Options{}))
		rec = newRecorder(t)
		rec.addDir(work)
		path, schema = pgtest.Shared(t).DSN("postgres"), pgtest.SchemaFor(h.Dir())
		s := h.Open()
		rec.addCloser(s.Close)
		g = &engineGraph{store: s, rec: rec}
	case "naive":
		rec = newRecorder(t)
		rec.addDir(work)
		path = filepath.Join(work, "docs")
		s, err := naive.OpenDir(path)
		require.NoError(t, err)
		g = &naiveGraph{store: s, rec: rec}
	case "sqlite":
		h := backendtest.New(t, sqliteOpener(sqlite.Options{Synchronous: sqlite.SyncNormal}))
		rec = newRecorder(t)
		rec.addDir(work)
		rec.addDir(h.Dir())
		path = filepath.Join(h.Dir(), "anchorage.sqlite")
		s := h.Open()
		rec.addCloser(s.Close)
		g = &engineGraph{store: s, rec: rec}
	}
	root := g.newRoot(t)

	children := make([]*child, multiProcesses)
	for i := range children {
		cfg := childConfig{Strategy: strategy, Path: path, Schema: schema, Root: root, Index: i,
			Touchers: reproTouchers / multiProcesses, Adder: i == 0,
			History: filepath.Join(work, fmt.Sprintf("child%d-history.txt", i))}
		children[i] = startChild(t, cfg)
	}
	watchdog := 2 * time.Minute
	if d, ok := t.Deadline(); ok {
		watchdog = min(watchdog, time.Until(d)/2)
	}
	var exited bool
	stop := func() {
		if exited {
			return
		}
		exited = true
		for _, c := range children {
			c.cmds.Close() // EOF: the child releases its walkers and exits
		}
		kill := time.AfterFunc(watchdog, func() {
			for _, c := range children {
				_ = c.cmd.Process.Kill()
			}
		})
		defer kill.Stop()
		for _, c := range children {
			for range c.events { // drain until the child closes its end
			}
			if err := c.cmd.Wait(); err != nil {
				t.Errorf("child %d: %v\n%s", c.index, err, c.out.String())
			}
		}
		for _, c := range children {
			rec.addFile(fmt.Sprintf("child%d-output.txt", c.index), []byte(c.out.String()))
		}
	}
	t.Cleanup(stop)

	send := func(cs []*child, format string, args ...any) {
		for _, c := range cs {
			if _, err := fmt.Fprintf(c.cmds, format+"\n", args...); err != nil {
				t.Fatalf("child %d: send: %v\n%s", c.index, err, c.out.String())
			}
		}
	}
	await := func(c *child, want string) string {
		select {
		case ev, ok := <-c.events:
			switch {
			case !ok:
				t.Fatalf("child %d exited while the parent waited for %q\n%s", c.index, want, c.out.String())
			case strings.HasPrefix(ev, "error "):
				t.Fatalf("child %d: %s", c.index, strings.TrimPrefix(ev, "error "))
			case !strings.HasPrefix(ev, want):
				t.Fatalf("child %d sent %q, the parent waited for %q", c.index, ev, want)
			}
			return strings.TrimSpace(strings.TrimPrefix(ev, want))
		case <-time.After(watchdog):
			for _, c := range children {
				_ = c.cmd.Process.Kill()
			}
			t.Fatalf("child %d sent nothing for %s while the parent waited for %q (killed all children)", c.index, watchdog, want)
		}
		return ""
	}

	items := make(map[anchor.ID]bool)
	repeat(t, reproRounds, func(round int) {
		send(children, "round %d", round)
		for _, c := range children {
			await(c, "loaded")
		}
		send(children, "go")
		id, err := anchor.ParseID(await(children[0], "added"))
		require.NoError(t, err)
		items[id] = true
		g.log().add("parent", "round %d: item edge %s acknowledged", round, id)
		send(children, "touch")
		for _, c := range children {
			await(c, "done")
		}
		g.verify(t)
	})
	stop()
	stored := g.storedEdges(t, root)
	requireNoStrays(t, root, stored, items)
	x := tally{what: "item edges on the root", expected: len(items), stored: countIn(items, stored)}
	if strategy == "naive" {
		t.Logf("naive whole-document writer, %d processes: %s: expected %d, stored %d, lost %d", multiProcesses, x.what, x.expected, x.stored, x.lost())
		if x.lost() <= 0 {
			t.Errorf("the naive writer lost no %s across processes: this scenario cannot detect the bug it pins", x.what)
		}
		return
	}
	t.Logf("engine on %s, %d processes: %s: expected %d, stored %d, lost %d", strategy, multiProcesses, x.what, x.expected, x.stored, x.lost())
	if x.lost() != 0 {
		t.Errorf("engine on %s lost %d of %d %s across processes", strategy, x.lost(), x.expected, x.what)
	}
}

func startChild(t *testing.T, cfg childConfig) *child {
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	cmdR, cmdW, err := os.Pipe()
	require.NoError(t, err)
	evR, evW, err := os.Pipe()
	require.NoError(t, err)
	c := &child{index: cfg.Index, cmds: cmdW, events: make(chan string, 16), out: &lockedBuffer{}}
	c.cmd = childproc.Command(t, "TestMultiProcessChild", string(js))
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	c.cmd.ExtraFiles = []*os.File{cmdR, evW} // fd 3: commands, fd 4: events
	err = c.cmd.Start()
	cmdR.Close()
	evW.Close()
	if err != nil {
		cmdW.Close()
		evR.Close()
		t.Fatalf("start child %d: %v", cfg.Index, err)
	}
	go func() {
		defer close(c.events)
		defer evR.Close()
		sc := bufio.NewScanner(evR)
		for sc.Scan() {
			c.events <- sc.Text()
		}
	}()
	return c
}

// TestMultiProcessChild is the child role of TestMultiProcess: it runs its
// share of the walkers, round by round, as the parent says. Run directly it
// skips.
func TestMultiProcessChild(t *testing.T) {
	js, ok := childproc.Role() // the JSON childConfig
	if !ok {
		t.Skip("the child role of TestMultiProcess; runs only when started by it")
	}
	var cfg childConfig
	require.NoError(t, json.Unmarshal([]byte(js), &cfg))
	cmds := os.NewFile(3, "commands")
	events := os.NewFile(4, "events")
	defer cmds.Close()
	defer events.Close()
	var evMu sync.Mutex
	emit := func(format string, args ...any) {
		evMu.Lock()
		defer evMu.Unlock()
		fmt.Fprintf(events, format+"\n", args...)
	}

	var g graph
	hist := newHistory()
	switch cfg.Strategy {
	case "naive":
		s, err := naive.OpenDir(cfg.Path)
		require.NoError(t, err)
		g = &naiveGraph{store: s, rec: &recorder{hist: hist}}
	case "sqlite":
		s, err := sqlite.Open(cfg.Path, &sqlite.Options{Synchronous: sqlite.SyncNormal})
		require.NoError(t, err)
		defer s.Close()
		g = &engineGraph{store: s, rec: &recorder{hist: hist}}
	case "postgres":
		s, err := postgres.Open(cfg.Path, &postgres.Options{Schema: cfg.Schema})
		require.NoError(t, err)
		defer s.Close()
		g = &engineGraph{store: s, rec: &recorder{hist: hist}}
	default:
		t.Fatalf("unknown strategy %q", cfg.Strategy)
	}
	defer func() {
		if f, err := os.Create(cfg.History); err == nil {
			_ = hist.writeTo(f)
			f.Close()
		}
	}()

	type round struct {
		gr      group
		loaded  sync.WaitGroup
		goCh    *signal
		touchCh *signal
	}
	var cur *round
	sc := bufio.NewScanner(cmds)
	for sc.Scan() {
		cmd, arg, _ := strings.Cut(sc.Text(), " ")
		switch cmd {
		case "round":
			r := &round{goCh: newSignal(), touchCh: newSignal()}
			cur = r
			n := 0
			if cfg.Adder {
				n++
			}
			r.loaded.Add(n + cfg.Touchers)
			if cfg.Adder {
				name := fmt.Sprintf("p%d-r%s-adder", cfg.Index, arg)
				r.gr.Go(name, func() (err error) {
					defer func() {
						if err != nil { // the parent is waiting for "added"
							emit("error %s: %s", name, strings.ReplaceAll(err.Error(), "\n", "; "))
						}
					}()
					arrive := sync.OnceFunc(r.loaded.Done)
					defer arrive()
					w := g.walker(cfg.Root, name)
					if err := w.load(cfg.Root); err != nil {
						return err
					}
					arrive()
					r.goCh.wait()
					item, err := w.create("Item", map[string]any{"round": arg})
					if err != nil {
						return err
					}
					e, err := w.connect(cfg.Root, item, "HasItem")
					if err != nil {
						return err
					}
					if err := w.commit(); err != nil {
						return err
					}
					emit("added %s", e)
					return nil
				})
			}
			for i := range cfg.Touchers {
				name := fmt.Sprintf("p%d-r%s-touch%d", cfg.Index, arg, i)
				r.gr.Go(name, func() error {
					arrive := sync.OnceFunc(r.loaded.Done)
					defer arrive()
					w := g.walker(cfg.Root, name)
					if err := w.load(cfg.Root); err != nil {
						return err
					}
					arrive()
					r.goCh.wait()
					if i%2 == 0 {
						r.touchCh.wait() // a stale copy written after the edge landed
					}
					if err := w.set(cfg.Root, "last_seen", name); err != nil {
						return err
					}
					return w.commit()
				})
			}
			r.loaded.Wait()
			emit("loaded")
		case "go":
			cur.goCh.fire()
		case "touch":
			cur.touchCh.fire()
			if err := cur.gr.Wait(); err != nil {
				emit("error %s", strings.ReplaceAll(err.Error(), "\n", "; "))
				t.Fatal(err)
			}
			emit("done")
		default:
			t.Fatalf("unknown command %q", sc.Text())
		}
	}
	if cur != nil {
		// The parent hung up (it failed, or it is done): release and
		// collect any walkers still waiting.
		cur.goCh.fire()
		cur.touchCh.fire()
		_ = cur.gr.Wait()
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		t.Fatal(err)
	}
}
