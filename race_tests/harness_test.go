package racetests

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/internal/naive"
	"github.com/anchorage-db/anchorage/tiered"
)

// ---------------------------------------------------------------------------
// Backends

// backendCase is one durable tier the engine half of every scenario runs on.
type backendCase struct {
	name string
	open backendtest.Opener
}

func boltOpener(opts bolt.Options) backendtest.Opener {
	return func(t testing.TB, dir string) backend.Store {
		s, err := bolt.Open(filepath.Join(dir, "anchorage.db"), &opts)
		require.NoError(t, err)
		return s
	}
}

func sqliteOpener(opts sqlite.Options) backendtest.Opener {
	return func(t testing.TB, dir string) backend.Store {
		s, err := sqlite.Open(filepath.Join(dir, "anchorage.sqlite"), &opts)
		require.NoError(t, err)
		return s
	}
}

// engineBackends lists the backends every scenario runs against, each with
// its cheaper durability setting (TestMinimalRepro also runs the defaults).
func engineBackends() []backendCase {
	return []backendCase{
		{name: "bolt", open: boltOpener(bolt.Options{NoSync: true})},
		{name: "sqlite", open: sqliteOpener(sqlite.Options{Synchronous: sqlite.SyncNormal})},
		{name: "postgres", open: pgOpener(postgres.Options{})},
	}
}

// ---------------------------------------------------------------------------
// Soak

// soakEnv names the environment variable that makes every scenario run
// longer: a Go duration (e.g. 10m). Each scenario run (per strategy and
// backend) keeps repeating its rounds until that much time has passed.
const soakEnv = "ANCHORAGE_SOAK"

func soakFor(t testing.TB) time.Duration {
	v := os.Getenv(soakEnv)
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		t.Fatalf("%s=%q: want a Go duration such as 10m", soakEnv, v)
	}
	return d
}

// repeat runs fn for at least atLeast rounds and, under ANCHORAGE_SOAK,
// until the soak duration has passed. It stops early once the test has
// failed. It returns the number of rounds run.
func repeat(t testing.TB, atLeast int, fn func(round int)) int {
	soak := soakFor(t)
	start := time.Now()
	n := 0
	for ; n < atLeast || time.Since(start) < soak; n++ {
		if t.Failed() {
			break
		}
		fn(n)
	}
	return n
}

// ---------------------------------------------------------------------------
// Operation history and failure artifacts

// maxHistory bounds the lines a history keeps (the latest ones), so a soak
// run does not grow without limit.
const maxHistory = 1 << 18

// history is the operation log of one test: what each walker did, when,
// and what it got back. It is saved with the database when the test fails.
// It is safe for concurrent use.
type history struct {
	mu      sync.Mutex
	start   time.Time
	lines   []string
	dropped int
}

func newHistory() *history { return &history{start: time.Now()} }

func (h *history) add(who, format string, args ...any) {
	line := fmt.Sprintf("%12.6fs %-14s ", time.Since(h.start).Seconds(), who) + fmt.Sprintf(format, args...)
	h.mu.Lock()
	if len(h.lines) >= maxHistory {
		n := maxHistory / 4
		h.lines = append(h.lines[:0], h.lines[n:]...)
		h.dropped += n
	}
	h.lines = append(h.lines, line)
	h.mu.Unlock()
}

func (h *history) writeTo(w io.Writer) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dropped > 0 {
		if _, err := fmt.Fprintf(w, "(%d earlier lines dropped)\n", h.dropped); err != nil {
			return err
		}
	}
	for _, l := range h.lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

// recorder saves a failed test's database files and operation history to a
// directory that outlives the test (under os.TempDir, not t.TempDir) and
// names that directory in the failure output. Create it before opening the
// stores it should save, so its cleanup runs after theirs.
type recorder struct {
	t       testing.TB
	hist    *history
	mu      sync.Mutex
	dirs    []string
	closers []func() error
	files   map[string][]byte
}

func newRecorder(t testing.TB) *recorder {
	r := &recorder{t: t, hist: newHistory(), files: make(map[string][]byte)}
	t.Cleanup(r.saveIfFailed)
	return r
}

// addDir registers a directory whose files are saved on failure.
func (r *recorder) addDir(dir string) {
	r.mu.Lock()
	r.dirs = append(r.dirs, dir)
	r.mu.Unlock()
}

// addCloser registers a Close to call before copying (idempotent closes only).
func (r *recorder) addCloser(c func() error) {
	r.mu.Lock()
	r.closers = append(r.closers, c)
	r.mu.Unlock()
}

// addFile registers an extra artifact (a porcupine visualisation, a model dump).
func (r *recorder) addFile(name string, b []byte) {
	r.mu.Lock()
	r.files[name] = b
	r.mu.Unlock()
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

func (r *recorder) saveIfFailed() {
	if !r.t.Failed() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.closers {
		_ = c() // the database must be closed (flushed) before it is copied
	}
	dir, err := os.MkdirTemp("", "anchorage-race-"+unsafeName.ReplaceAllString(r.t.Name(), "_")+"-")
	if err != nil {
		r.t.Errorf("race_tests: could not save failure artifacts: %v", err)
		return
	}
	var problems []error
	for i, src := range r.dirs {
		problems = append(problems, copyDir(src, filepath.Join(dir, fmt.Sprintf("db%d", i))))
	}
	if f, err := os.Create(filepath.Join(dir, "history.txt")); err != nil {
		problems = append(problems, err)
	} else {
		problems = append(problems, r.hist.writeTo(f), f.Close())
	}
	for name, b := range r.files {
		problems = append(problems, os.WriteFile(filepath.Join(dir, name), b, 0o644))
	}
	if err := errors.Join(problems...); err != nil {
		r.t.Errorf("race_tests: saving failure artifacts to %s: %v", dir, err)
	}
	r.t.Errorf("race_tests: saved the database file(s) and the operation history of this failure in %s", dir)
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// ---------------------------------------------------------------------------
// Strategies: the naive whole-document writer and the engine

// graph is one persistence strategy under test: the naive whole-document
// writer (the control, which must lose data) or the engine over one backend
// (which must lose nothing). Scenario bodies are written once against it, so
// the control runs exactly the schedule the engine runs.
type graph interface {
	// walker returns a new walker with an empty cache (L1), acting as root.
	walker(root anchor.ID, name string) walker
	// newRoot stores a user's root node and returns its ID (= the root's).
	newRoot(t testing.TB) anchor.ID
	// storedEdges returns the IDs of the edges stored on node.
	storedEdges(t testing.TB, node anchor.ID) map[anchor.ID]bool
	// storedField returns the stored string field of id ("" and false if unset).
	storedField(t testing.TB, id anchor.ID, field string) (string, bool)
	// verify checks the store's integrity (a no-op for the naive writer,
	// which has none to check).
	verify(t testing.TB)
	// log returns the history operations are recorded in.
	log() *history
}

// walker is one request's view of the graph. A walker belongs to one
// goroutine.
type walker interface {
	// load reads id into the walker's cache (a possibly stale copy after that).
	load(id anchor.ID) error
	// touch is load for a walker that then "saves what it read": the naive
	// runtime wrote every loaded document back; the engine writes only diffs.
	touch(id anchor.ID) error
	create(typ string, fields map[string]any) (anchor.ID, error)
	connect(src, dst anchor.ID, typ string) (anchor.ID, error)
	set(id anchor.ID, field string, v any) error
	field(id anchor.ID, name string) (string, error)
	edges(node anchor.ID) ([]anchor.ID, error)
	delete(id anchor.ID) error
	// putEdge is the cascade save of a new edge: the engine Puts the edge
	// (which writes its never-stored endpoint with it); the naive runtime
	// wrote both endpoint documents whole, outside any transaction.
	putEdge(edge, src, dst anchor.ID) error
	// put writes one anchor now.
	put(id anchor.ID) error
	// commit writes everything the walker changed.
	commit() error
}

var ctx = context.Background()

// logged records op and its outcome in h and returns err.
func logged(h *history, who string, err error, format string, args ...any) error {
	if err != nil {
		h.add(who, format+" -> %v", append(args, err)...)
	} else {
		h.add(who, format+" -> ok", args...)
	}
	return err
}

// --- engine

type engineGraph struct {
	store backend.Store
	rec   *recorder
}

// openEngine opens a store of backend b through the conformance harness
// (Verify runs on cleanup) with a recorder that saves it on failure. The
// store declares indexes on the fields the scenarios write, so Verify's
// rebuild of every index from the anchors checks them too.
func openEngine(t testing.TB, b backendCase) *engineGraph {
	h := backendtest.New(t, b.open)
	rec := newRecorder(t)
	rec.addDir(h.Dir())
	s := h.Open()
	rec.addCloser(s.Close)
	var ix delta.Indexes
	for _, typ := range []string{"Root", "Project", "Doc", "Item", "Profile", "Note", "Message", "Section", "Node"} {
		for _, f := range []string{"last_seen", "last_message", "shared", "opened_at", "text"} {
			ix.Fields = append(ix.Fields, delta.FieldIndex{Type: typ, Field: f})
		}
	}
	backendtest.Declare(t, s, ix)
	return &engineGraph{store: s, rec: rec}
}

func (g *engineGraph) log() *history { return g.rec.hist }

func (g *engineGraph) walker(root anchor.ID, name string) walker {
	return &engineWalker{m: tiered.New(g.store, root, nil), h: g.rec.hist, name: name}
}

func (g *engineGraph) newRoot(t testing.TB) anchor.ID {
	root := backendtest.NewRootNode(t, g.store, anchor.Access{})
	g.rec.hist.add("setup", "root %s", root)
	return root
}

func (g *engineGraph) storedEdges(t testing.TB, node anchor.ID) map[anchor.ID]bool {
	t.Helper()
	set := make(map[anchor.ID]bool)
	require.NoError(t, g.store.View(ctx, func(v backend.View) error {
		return v.Adjacent(node, func(r anchor.Adj) error { set[r.Edge] = true; return nil })
	}))
	return set
}

func (g *engineGraph) storedField(t testing.TB, id anchor.ID, field string) (string, bool) {
	t.Helper()
	a := backendtest.Stored(t, g.store, id)
	var v string
	if err := a.Field(field, &v); err != nil {
		require.ErrorIs(t, err, anchor.ErrNoField)
		return "", false
	}
	return v, true
}

// stored returns the stored anchor (tombstones included), or nil if missing.
func (g *engineGraph) stored(t testing.TB, id anchor.ID) *anchor.Anchor {
	t.Helper()
	var a *anchor.Anchor
	err := g.store.View(ctx, func(v backend.View) error {
		var err error
		a, err = v.Anchor(id)
		return err
	})
	if errors.Is(err, anchor.ErrNotFound) {
		return nil
	}
	require.NoError(t, err)
	return a
}

func (g *engineGraph) verify(t testing.TB) {
	t.Helper()
	backendtest.RequireClean(t, g.store)
}

type engineWalker struct {
	m    *tiered.Memory
	h    *history
	name string
}

func (w *engineWalker) load(id anchor.ID) error {
	_, err := w.m.Get(ctx, id)
	return logged(w.h, w.name, err, "load %s", id)
}

func (w *engineWalker) touch(id anchor.ID) error { return w.load(id) }

func (w *engineWalker) create(typ string, fields map[string]any) (anchor.ID, error) {
	id, err := w.m.Create(anchor.KindNode, typ, fields)
	return id, logged(w.h, w.name, err, "create %s %s %v", typ, id, fields)
}

func (w *engineWalker) connect(src, dst anchor.ID, typ string) (anchor.ID, error) {
	e, err := w.m.Connect(ctx, src, dst, typ, nil)
	return e, logged(w.h, w.name, err, "connect %s -%s-> %s as %s", src, typ, dst, e)
}

func (w *engineWalker) set(id anchor.ID, field string, v any) error {
	return logged(w.h, w.name, w.m.Set(ctx, id, field, v), "set %s.%s = %v", id, field, v)
}

func (w *engineWalker) field(id anchor.ID, name string) (string, error) {
	var v string
	err := w.m.Field(ctx, id, name, &v)
	return v, logged(w.h, w.name, err, "field %s.%s = %q", id, name, v)
}

func (w *engineWalker) edges(node anchor.ID) ([]anchor.ID, error) {
	rows, err := w.m.Edges(ctx, node)
	ids := make([]anchor.ID, len(rows))
	for i, r := range rows {
		ids[i] = r.Edge
	}
	return ids, logged(w.h, w.name, err, "edges %s: %d", node, len(ids))
}

func (w *engineWalker) delete(id anchor.ID) error {
	return logged(w.h, w.name, w.m.Delete(ctx, id), "delete %s", id)
}

func (w *engineWalker) putEdge(edge, _, _ anchor.ID) error {
	return logged(w.h, w.name, w.m.Put(ctx, edge), "put edge %s", edge)
}

func (w *engineWalker) put(id anchor.ID) error {
	return logged(w.h, w.name, w.m.Put(ctx, id), "put %s", id)
}

func (w *engineWalker) commit() error {
	return logged(w.h, w.name, w.m.Commit(ctx), "commit")
}

// fieldStamp returns the stamp this walker's copy of id holds for field: after
// a successful commit that set the field, the stamp of that commit.
func (w *engineWalker) fieldStamp(id anchor.ID, field string) (anchor.HLC, error) {
	a, err := w.m.Get(ctx, id)
	if err != nil {
		return 0, err
	}
	return a.Fields[field].Stamp, nil
}

// --- naive

type naiveGraph struct {
	store *naive.Store
	rec   *recorder
}

func openNaive(t testing.TB) *naiveGraph {
	dir := t.TempDir()
	rec := newRecorder(t)
	rec.addDir(dir)
	s, err := naive.Open(filepath.Join(dir, "naive.db"), true)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	rec.addCloser(s.Close)
	return &naiveGraph{store: s, rec: rec}
}

func (g *naiveGraph) log() *history { return g.rec.hist }

func (g *naiveGraph) walker(_ anchor.ID, name string) walker {
	return &naiveWalker{w: g.store.NewWalker(), h: g.rec.hist, name: name}
}

func (g *naiveGraph) newRoot(t testing.TB) anchor.ID {
	root := anchor.NewID()
	w := g.store.NewWalker()
	require.NoError(t, w.Set(root, "_type", "Root"))
	require.NoError(t, w.Commit())
	g.rec.hist.add("setup", "root %s", root)
	return root
}

func (g *naiveGraph) doc(t testing.TB, id anchor.ID) *naive.Doc {
	t.Helper()
	d, err := g.store.Doc(id)
	require.NoError(t, err)
	return d
}

func (g *naiveGraph) storedEdges(t testing.TB, node anchor.ID) map[anchor.ID]bool {
	set := make(map[anchor.ID]bool)
	for _, e := range g.doc(t, node).Edges {
		set[e] = true
	}
	return set
}

func (g *naiveGraph) storedField(t testing.TB, id anchor.ID, field string) (string, bool) {
	v, ok := g.doc(t, id).Fields[field]
	if !ok {
		return "", false
	}
	s, _ := v.(string)
	return s, true
}

func (g *naiveGraph) verify(testing.TB) {}

type naiveWalker struct {
	w    *naive.Walker
	h    *history
	name string
}

func (w *naiveWalker) load(id anchor.ID) error {
	_, err := w.w.Load(id)
	return logged(w.h, w.name, err, "load %s", id)
}

func (w *naiveWalker) touch(id anchor.ID) error {
	return logged(w.h, w.name, w.w.Touch(id), "touch %s", id)
}

func (w *naiveWalker) create(typ string, fields map[string]any) (anchor.ID, error) {
	id := anchor.NewID()
	err := w.w.Set(id, "_type", typ)
	for k, v := range fields {
		if err == nil {
			err = w.w.Set(id, k, v)
		}
	}
	return id, logged(w.h, w.name, err, "create %s %s %v", typ, id, fields)
}

func (w *naiveWalker) connect(src, dst anchor.ID, typ string) (anchor.ID, error) {
	e, err := w.w.Connect(src, dst)
	return e, logged(w.h, w.name, err, "connect %s -%s-> %s as %s", src, typ, dst, e)
}

func (w *naiveWalker) set(id anchor.ID, field string, v any) error {
	return logged(w.h, w.name, w.w.Set(id, field, v), "set %s.%s = %v", id, field, v)
}

func (w *naiveWalker) field(id anchor.ID, name string) (string, error) {
	d, err := w.w.Load(id)
	var v string
	if err == nil {
		v, _ = d.Fields[name].(string)
	}
	return v, logged(w.h, w.name, err, "field %s.%s = %q", id, name, v)
}

func (w *naiveWalker) edges(node anchor.ID) ([]anchor.ID, error) {
	d, err := w.w.Load(node)
	var ids []anchor.ID
	if err == nil {
		ids = slices.Clone(d.Edges)
	}
	return ids, logged(w.h, w.name, err, "edges %s: %d", node, len(ids))
}

func (w *naiveWalker) delete(id anchor.ID) error {
	return logged(w.h, w.name, w.w.Delete(id), "delete %s", id)
}

func (w *naiveWalker) putEdge(edge, src, dst anchor.ID) error {
	err := w.w.Put(src)
	if err == nil {
		err = w.w.Put(dst)
	}
	return logged(w.h, w.name, err, "put edge %s (whole documents %s and %s)", edge, src, dst)
}

func (w *naiveWalker) put(id anchor.ID) error {
	return logged(w.h, w.name, w.w.Put(id), "put %s", id)
}

func (w *naiveWalker) commit() error {
	return logged(w.h, w.name, w.w.Commit(), "commit")
}

// ---------------------------------------------------------------------------
// Running scenarios

// tally counts one kind of committed write a scenario checks for.
type tally struct {
	what     string
	expected int // committed (acknowledged) writes of this kind
	stored   int // of those, how many the store still holds
	// naiveMustLose: the scenario's schedule makes the naive writer lose
	// some of these deterministically; if it does not, the scenario is
	// broken (it could not detect the bug it pins).
	naiveMustLose bool
}

func (x tally) lost() int { return x.expected - x.stored }

// runScenario runs body against the naive whole-document writer, where the
// tallies marked naiveMustLose must show a loss, and through the engine on
// each backend, where nothing may be lost.
func runScenario(t *testing.T, backends []backendCase, body func(t *testing.T, g graph) []tally) {
	t.Run("naive", func(t *testing.T) {
		tallies := body(t, openNaive(t))
		if t.Failed() {
			return
		}
		for _, x := range tallies {
			t.Logf("naive whole-document writer: %s: expected %d, stored %d, lost %d", x.what, x.expected, x.stored, x.lost())
			if x.naiveMustLose && x.lost() <= 0 {
				t.Errorf("the naive writer lost no %s: this scenario cannot detect the bug it pins", x.what)
			}
		}
	})
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			g := openEngine(t, b)
			tallies := body(t, g)
			for _, x := range tallies {
				t.Logf("engine on %s: %s: expected %d, stored %d, lost %d", b.name, x.what, x.expected, x.stored, x.lost())
				if x.lost() != 0 {
					t.Errorf("engine on %s lost %d of %d %s", b.name, x.lost(), x.expected, x.what)
				}
			}
		})
	}
}

// group runs goroutines and collects their errors.
type group struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func (g *group) Go(name string, fn func() error) {
	g.wg.Go(func() {
		if err := fn(); err != nil {
			g.mu.Lock()
			g.errs = append(g.errs, fmt.Errorf("%s: %w", name, err))
			g.mu.Unlock()
		}
	})
}

func (g *group) Wait() error {
	g.wg.Wait()
	return errors.Join(g.errs...)
}

// barrier lets n goroutines wait until all of them have arrived. A
// goroutine that returns early must still arrive (defer b.arrive()), so a
// failing walker does not hang the others; arriving twice is harmless.
type barrier struct {
	wg sync.WaitGroup
}

func newBarrier(n int) *barrier {
	b := &barrier{}
	b.wg.Add(n)
	return b
}

// member returns the arrive function of one participant (idempotent).
func (b *barrier) member() func() { return sync.OnceFunc(b.wg.Done) }

func (b *barrier) wait() { b.wg.Wait() }

// signal is a one-shot broadcast: closing is idempotent.
type signal struct {
	ch   chan struct{}
	once sync.Once
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }
func (s *signal) fire()  { s.once.Do(func() { close(s.ch) }) }
func (s *signal) wait()  { <-s.ch }
func (s *signal) fired() bool {
	select {
	case <-s.ch:
		return true
	default:
		return false
	}
}

// countIn returns how many of want are in have.
func countIn(want, have map[anchor.ID]bool) int {
	n := 0
	for id := range want {
		if have[id] {
			n++
		}
	}
	return n
}

// requireNoStrays fails if have holds an edge that is neither in want nor
// in also: an edge nobody committed is as much a bug as a lost one.
func requireNoStrays(t testing.TB, node anchor.ID, have map[anchor.ID]bool, want ...map[anchor.ID]bool) {
	t.Helper()
	for id := range have {
		known := false
		for _, w := range want {
			known = known || w[id]
		}
		if !known {
			t.Errorf("node %s holds edge %s that no walker committed", node, id)
		}
	}
}
