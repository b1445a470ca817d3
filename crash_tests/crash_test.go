package crash_tests

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/postgres/pgtest"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/internal/childproc"
	"github.com/anchorage-db/anchorage/tiered"
)

// durable is one backend under test. open must use the backend's defaults:
// fsync on, exactly what a user gets.
type durable struct {
	name string
	file string // store file name inside the store directory
	open func(path string) (backend.Store, error)
}

var durables = []durable{
	{name: "bolt", file: "anchorage.db", open: func(p string) (backend.Store, error) { return bolt.Open(p, nil) }},
	{name: "sqlite", file: "anchorage.sqlite", open: func(p string) (backend.Store, error) { return sqlite.Open(p, nil) }},
	// On PostgreSQL the child (the client) is killed, not the server: the
	// store lives in a schema named after the store path, on the server
	// whose DSN the parent passes down in envPG.
	{name: "postgres", file: "schema", open: func(p string) (backend.Store, error) {
		dsn := os.Getenv(envPG)
		if dsn == "" {
			return nil, fmt.Errorf("no PostgreSQL server: %s is not set", envPG)
		}
		return postgres.Open(dsn, &postgres.Options{Schema: pgtest.SchemaFor(p)})
	}},
}

func lookup(name string) (durable, bool) {
	for _, d := range durables {
		if d.name == name {
			return d, true
		}
	}
	return durable{}, false
}

// Environment of the child process.
const (
	envPath      = "ANCHORAGE_CRASH_PATH"
	envRoot      = "ANCHORAGE_CRASH_ROOT"
	envChildSeed = "ANCHORAGE_CRASH_CHILD_SEED"
	envPG        = "ANCHORAGE_CRASH_PG_DSN" // the PostgreSQL server, for the postgres backend

	envSeed = "ANCHORAGE_CRASH_SEED" // parent: replay a run's choices
	envSoak = "ANCHORAGE_SOAK"       // parent: keep killing for this long
)

const (
	minKills  = 50
	linePfx   = "CRASH "
	childLife = 2 * time.Minute // a child never outlives a lost parent by more

	// sessionsGone bounds the wait for a killed child's PostgreSQL
	// sessions to end: far more than a commit takes on a loaded machine.
	sessionsGone = 30 * time.Second
)

// ---------------------------------------------------------------------------
// Protocol between child and parent.

// idText is an anchor ID that JSON-encodes as its UUID string.
type idText anchor.ID

func (id idText) MarshalText() ([]byte, error) { return []byte(anchor.ID(id).String()), nil }

func (id *idText) UnmarshalText(b []byte) error {
	v, err := anchor.ParseID(string(b))
	*id = idText(v)
	return err
}

// commitRec is what one commit makes true, as the child announces it in
// its BEGIN line.
type commitRec struct {
	I          int       `json:"i"`              // root.n = I
	Node       idText    `json:"node"`           // new node, n = born = I
	Edge       idText    `json:"edge"`           // new edge root -> Node, type C<I>, n = I
	Set        []idText  `json:"set,omitempty"`  // older nodes whose n becomes I
	Cross      *crossRec `json:"x,omitempty"`    // new edge Src -> Dst, type X<I>
	Disconnect []idText  `json:"disc,omitempty"` // edges removed
	Delete     []idText  `json:"del,omitempty"`  // nodes deleted, with their edges
}

type crossRec struct {
	ID  idText `json:"id"`
	Src idText `json:"src"`
	Dst idText `json:"dst"`
}

// ---------------------------------------------------------------------------
// The child.

// TestCrashChild is the child role of TestCrashLoop. It does nothing unless
// TestCrashLoop started it; then it commits until it is killed.
func TestCrashChild(t *testing.T) {
	name, ok := childproc.Role() // the backend
	if !ok {
		t.Skip("child role of TestCrashLoop; runs only when started by it")
	}
	if err := runChild(name); err != nil {
		fmt.Fprintf(os.Stdout, "%sFAIL %v\n", linePfx, err)
		os.Exit(2)
	}
	os.Exit(0)
}

func say(format string, args ...any) {
	// One write per line: a pipe write of less than PIPE_BUF bytes is atomic,
	// so the parent never sees a torn line.
	line := fmt.Sprintf(linePfx+format+"\n", args...)
	if _, err := os.Stdout.WriteString(line); err != nil {
		os.Exit(5)
	}
}

type xedge struct{ id, src, dst anchor.ID }

// childState is what the child knows of the graph it built, recovered from
// the store on start and kept up to date after each acknowledged commit. It
// only steers the child's choices; the parent checks against its own model.
type childState struct {
	n      int                     // root.n
	nodes  []anchor.ID             // live nodes reachable from the root by a C edge
	cedge  map[anchor.ID]anchor.ID // node -> its C edge
	xedges []xedge                 // live X edges between nodes
}

func runChild(name string) error {
	d, ok := lookup(name)
	if !ok {
		return fmt.Errorf("unknown backend %q", name)
	}
	root, err := anchor.ParseID(os.Getenv(envRoot))
	if err != nil {
		return err
	}
	seed, err := strconv.ParseUint(os.Getenv(envChildSeed), 10, 64)
	if err != nil {
		return err
	}
	// Die with the parent: it holds our stdin open and never writes to it.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(3)
	}()
	time.AfterFunc(childLife, func() { os.Exit(4) })

	ctx := context.Background()
	s, err := d.open(os.Getenv(envPath))
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	st, err := recoverState(ctx, s, root)
	if err != nil {
		return fmt.Errorf("recover state: %w", err)
	}
	say("READY %d", st.n)
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	for i := st.n + 1; ; i++ {
		rec, err := commitOne(ctx, s, root, st, rng, i)
		if err != nil {
			return fmt.Errorf("commit %d: %w", i, err)
		}
		say("ACK %d", i)
		st.acked(rec)
	}
}

func recoverState(ctx context.Context, s backend.Store, root anchor.ID) (*childState, error) {
	st := &childState{cedge: map[anchor.ID]anchor.ID{}}
	err := s.View(ctx, func(v backend.View) error {
		r, err := v.Anchor(root)
		if err != nil {
			return err
		}
		if err := r.Field("n", &st.n); err != nil && !errors.Is(err, anchor.ErrNoField) {
			return err
		}
		err = v.Adjacent(root, func(a anchor.Adj) error {
			if a.Dir == anchor.Out && strings.HasPrefix(a.Type, "C") {
				st.nodes = append(st.nodes, a.Peer)
				st.cedge[a.Peer] = a.Edge
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, n := range st.nodes {
			err := v.Adjacent(n, func(a anchor.Adj) error {
				if a.Dir == anchor.Out && strings.HasPrefix(a.Type, "X") {
					st.xedges = append(st.xedges, xedge{a.Edge, n, a.Peer})
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return st, err
}

// commitOne builds commit i in a fresh walker memory, announces it, and
// commits it.
func commitOne(ctx context.Context, s backend.Store, root anchor.ID, st *childState, rng *rand.Rand, i int) (commitRec, error) {
	m := tiered.New(s, root, nil)
	rec := commitRec{I: i}
	if err := m.Set(ctx, root, "n", i); err != nil {
		return rec, err
	}
	node, err := m.Create(anchor.KindNode, "Item", map[string]any{"n": i, "born": i})
	if err != nil {
		return rec, err
	}
	edge, err := m.Connect(ctx, root, node, "C"+strconv.Itoa(i), map[string]any{"n": i})
	if err != nil {
		return rec, err
	}
	rec.Node, rec.Edge = idText(node), idText(edge)
	// Older nodes this commit touches otherwise than by deleting; a node is
	// never both changed and deleted by one commit.
	keep := map[anchor.ID]bool{}
	pick := func() (anchor.ID, bool) {
		for range 4 {
			if len(st.nodes) == 0 {
				break
			}
			n := st.nodes[rng.IntN(len(st.nodes))]
			if !keep[n] {
				return n, true
			}
		}
		return anchor.ID{}, false
	}
	if n, ok := pick(); ok && rng.IntN(2) == 0 {
		if err := m.Set(ctx, n, "n", i); err != nil {
			return rec, err
		}
		rec.Set = append(rec.Set, idText(n))
		keep[n] = true
	}
	if len(st.nodes) > 0 && rng.IntN(3) == 0 {
		src := st.nodes[rng.IntN(len(st.nodes))]
		dst := node
		if rng.IntN(2) == 0 {
			dst = st.nodes[rng.IntN(len(st.nodes))]
		}
		x, err := m.Connect(ctx, src, dst, "X"+strconv.Itoa(i), nil)
		if err != nil {
			return rec, err
		}
		rec.Cross = &crossRec{ID: idText(x), Src: idText(src), Dst: idText(dst)}
		keep[src], keep[dst] = true, true
	}
	if len(st.xedges) > 0 && rng.IntN(4) == 0 {
		x := st.xedges[rng.IntN(len(st.xedges))]
		if err := m.Disconnect(ctx, x.id); err != nil {
			return rec, err
		}
		rec.Disconnect = append(rec.Disconnect, idText(x.id))
		keep[x.src], keep[x.dst] = true, true
	}
	if n, ok := pick(); ok && rng.IntN(8) == 0 {
		// Orphan an older node: drop its C edge, the node stays.
		if err := m.Disconnect(ctx, st.cedge[n]); err != nil {
			return rec, err
		}
		rec.Disconnect = append(rec.Disconnect, idText(st.cedge[n]))
		keep[n] = true
	}
	if n, ok := pick(); ok && (len(st.nodes) > 24 && rng.IntN(2) == 0 || len(st.nodes) > 3 && rng.IntN(4) == 0) {
		if err := m.Delete(ctx, n); err != nil {
			return rec, err
		}
		rec.Delete = append(rec.Delete, idText(n))
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return rec, err
	}
	say("BEGIN %s", line)
	return rec, m.Commit(ctx)
}

func (st *childState) acked(r commitRec) {
	st.n = r.I
	node := anchor.ID(r.Node)
	st.nodes = append(st.nodes, node)
	st.cedge[node] = anchor.ID(r.Edge)
	if r.Cross != nil {
		st.xedges = append(st.xedges, xedge{anchor.ID(r.Cross.ID), anchor.ID(r.Cross.Src), anchor.ID(r.Cross.Dst)})
	}
	gone := map[anchor.ID]bool{}
	for _, e := range r.Disconnect {
		gone[anchor.ID(e)] = true
	}
	dead := map[anchor.ID]bool{}
	for _, n := range r.Delete {
		dead[anchor.ID(n)] = true
	}
	nodes := st.nodes[:0]
	for _, n := range st.nodes {
		if dead[n] || gone[st.cedge[n]] {
			delete(st.cedge, n)
			continue
		}
		nodes = append(nodes, n)
	}
	st.nodes = nodes
	xs := st.xedges[:0]
	for _, x := range st.xedges {
		if gone[x.id] || dead[x.src] || dead[x.dst] {
			continue
		}
		xs = append(xs, x)
	}
	st.xedges = xs
}
