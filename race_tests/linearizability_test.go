package racetests

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/internal/naive"
	"github.com/anchorage-db/anchorage/tiered"
)

// edgeOp is the input of one recorded operation on a node's edge set.
type edgeOp struct {
	Node anchor.ID // the partition: histories are checked node by node
	Kind string    // "connect", "disconnect" or "read"
	Edge anchor.ID // for connect and disconnect
}

// edgeResult is what the operation returned.
type edgeResult struct {
	Err   string      // connect, disconnect: "" when acknowledged
	Edges []anchor.ID // read: the edge set seen, sorted
}

// edgeSet is the model state: the node's edge IDs, sorted and concatenated
// (an immutable, comparable value).
type edgeSet string

func makeEdgeSet(ids []anchor.ID) edgeSet {
	ids = slices.Clone(ids)
	slices.SortFunc(ids, func(a, b anchor.ID) int { return bytes.Compare(a[:], b[:]) })
	var b strings.Builder
	for _, id := range ids {
		b.Write(id[:])
	}
	return edgeSet(b.String())
}

func (s edgeSet) ids() []anchor.ID {
	out := make([]anchor.ID, 0, len(s)/16)
	for i := 0; i+16 <= len(s); i += 16 {
		out = append(out, anchor.ID([]byte(s[i:i+16])))
	}
	return out
}

func (s edgeSet) has(e anchor.ID) bool { return slices.Contains(s.ids(), e) }

func (s edgeSet) with(e anchor.ID) edgeSet { return makeEdgeSet(append(s.ids(), e)) }

func (s edgeSet) without(e anchor.ID) edgeSet {
	return makeEdgeSet(slices.DeleteFunc(s.ids(), func(x anchor.ID) bool { return x == e }))
}

func short(id anchor.ID) string { return id.String()[:8] }

// edgeSetModel is the sequential specification of a node's edge set: an
// acknowledged connect adds its edge, an acknowledged disconnect removes
// it, a failed one changes nothing (errors tell the truth), and a read
// returns exactly the current set.
var edgeSetModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byNode := map[anchor.ID][]porcupine.Operation{}
		var order []anchor.ID
		for _, op := range history {
			n := op.Input.(edgeOp).Node
			if _, ok := byNode[n]; !ok {
				order = append(order, n)
			}
			byNode[n] = append(byNode[n], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, n := range order {
			out = append(out, byNode[n])
		}
		return out
	},
	Init: func() any { return edgeSet("") },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(edgeSet), input.(edgeOp), output.(edgeResult)
		switch in.Kind {
		case "connect":
			if out.Err != "" {
				return true, s
			}
			return !s.has(in.Edge), s.with(in.Edge)
		case "disconnect":
			if out.Err != "" {
				return true, s
			}
			return s.has(in.Edge), s.without(in.Edge)
		case "read":
			return makeEdgeSet(out.Edges) == s, s
		}
		return false, s
	},
	Equal: func(a, b any) bool { return a.(edgeSet) == b.(edgeSet) },
	Hash: func(state any) uint64 {
		h := fnv.New64a()
		h.Write([]byte(state.(edgeSet)))
		return h.Sum64()
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(edgeOp), output.(edgeResult)
		switch in.Kind {
		case "read":
			var ids []string
			for _, e := range out.Edges {
				ids = append(ids, short(e))
			}
			return fmt.Sprintf("read(%s) -> {%s}", short(in.Node), strings.Join(ids, " "))
		default:
			res := "ok"
			if out.Err != "" {
				res = out.Err
			}
			return fmt.Sprintf("%s(%s, %s) -> %s", in.Kind, short(in.Node), short(in.Edge), res)
		}
	},
	DescribeState: func(state any) string {
		var ids []string
		for _, e := range state.(edgeSet).ids() {
			ids = append(ids, short(e))
		}
		return "{" + strings.Join(ids, " ") + "}"
	},
}

// opLog records concurrent operations with call and return times from one
// monotonic clock. It is safe for concurrent use.
type opLog struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

func newOpLog() *opLog { return &opLog{start: time.Now()} }

func (l *opLog) now() int64 { return time.Since(l.start).Nanoseconds() }

func (l *opLog) add(client int, in edgeOp, call int64, out edgeResult, ret int64) {
	l.mu.Lock()
	l.ops = append(l.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
	l.mu.Unlock()
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func sortedEdges(ids []anchor.ID) []anchor.ID {
	return makeEdgeSet(ids).ids()
}

// checkHistory runs porcupine over ops and, if the result is not want,
// fails the test and saves a visualisation of the history with the
// recorder's other artifacts.
func checkHistory(t testing.TB, rec *recorder, ops []porcupine.Operation, want porcupine.CheckResult) {
	t.Helper()
	res, info := porcupine.CheckOperationsVerbose(edgeSetModel, ops, time.Minute)
	t.Logf("porcupine: %d operations on %d nodes: %s", len(ops), len(edgeSetModel.Partition(ops)), res)
	if res == want {
		return
	}
	var buf bytes.Buffer
	if err := porcupine.Visualize(edgeSetModel, info, &buf); err == nil && rec != nil {
		rec.addFile("linearizability.html", buf.Bytes())
	}
	t.Errorf("porcupine says the edge-operation history is %s, want %s", res, want)
}

const (
	linClients = 6
	linOps     = 60
	linRounds  = 2
)

// TestEdgeHistoriesLinearizable records concurrent histories of edge
// operations — connect and disconnect commits (from long-lived, stale
// walkers) and reads of a node's edge set (through a fresh tiered.Memory's
// Edges or a backend.View) — on two shared nodes, and checks them with
// porcupine, partitioned per node, against a set model: every acknowledged
// connect is visible to every read that starts after it returns, until an
// acknowledged disconnect; a failed operation changes nothing.
//
// The naive whole-document writer runs the same kind of workload, after a
// short fixed prelude (two walkers load the node, each connects and
// commits, a read after each), and its history must be rejected: this is
// the check that could fail.
func TestEdgeHistoriesLinearizable(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("workload seed %d", seed)
	t.Run("naive", func(t *testing.T) {
		g := openNaive(t)
		log := naiveEdgeHistory(t, g, seed)
		checkHistory(t, g.rec, log.ops, porcupine.Illegal)
	})
	for _, b := range engineBackends() {
		t.Run(b.name, func(t *testing.T) {
			g := openEngine(t, b)
			repeat(t, linRounds, func(round int) {
				log := engineEdgeHistory(t, g, seed+uint64(round)*1000)
				checkHistory(t, g.rec, log.ops, porcupine.Ok)
			})
		})
	}
}

// engineEdgeHistory runs linClients walkers doing random edge operations
// on two hub nodes and returns their history.
func engineEdgeHistory(t *testing.T, g *engineGraph, seed uint64) *opLog {
	root := g.newRoot(t)
	setup := tiered.New(g.store, root, nil)
	var hubs []anchor.ID
	for range 2 {
		h, err := setup.Create(anchor.KindNode, "Hub", nil)
		if err != nil {
			t.Fatal(err)
		}
		hubs = append(hubs, h)
	}
	if err := setup.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	log := newOpLog()
	hist := g.log()
	start := newBarrier(linClients)
	var gr group
	for c := range linClients {
		name := fmt.Sprintf("client%d", c)
		gr.Go(name, func() error {
			r := rand.New(rand.NewPCG(seed, uint64(c)))
			arrive := start.member()
			defer arrive()
			mem := tiered.New(g.store, root, nil) // long-lived: its copies of the hubs go stale
			for _, h := range hubs {
				if _, err := mem.Get(ctx, h); err != nil {
					return err
				}
			}
			arrive()
			start.wait()
			own := map[anchor.ID][]anchor.ID{}
			for i := range linOps {
				hub := hubs[r.IntN(len(hubs))]
				switch k := r.IntN(10); {
				case k < 4 || k < 6 && len(own[hub]) == 0:
					leaf, err := mem.Create(anchor.KindNode, "Leaf", map[string]any{"i": i})
					if err != nil {
						return err
					}
					e, err := mem.Connect(ctx, hub, leaf, "Has", nil)
					if err != nil {
						return err
					}
					call := log.now()
					err = mem.Commit(ctx)
					ret := log.now()
					log.add(c, edgeOp{hub, "connect", e}, call, edgeResult{Err: errString(err)}, ret)
					logged(hist, name, err, "commit connect %s -> %s as %s", hub, leaf, e)
					if err != nil {
						return err // the engine has no reason to refuse this
					}
					own[hub] = append(own[hub], e)
				case k < 6:
					j := r.IntN(len(own[hub]))
					e := own[hub][j]
					own[hub] = slices.Delete(own[hub], j, j+1)
					if err := mem.Disconnect(ctx, e); err != nil {
						return err
					}
					call := log.now()
					err := mem.Commit(ctx)
					ret := log.now()
					log.add(c, edgeOp{hub, "disconnect", e}, call, edgeResult{Err: errString(err)}, ret)
					logged(hist, name, err, "commit disconnect %s from %s", e, hub)
					if err != nil {
						return err
					}
				default:
					var ids []anchor.ID
					call := log.now()
					var err error
					if k%2 == 0 {
						var rows []anchor.Adj
						rows, err = tiered.New(g.store, root, nil).Edges(ctx, hub)
						for _, row := range rows {
							ids = append(ids, row.Edge)
						}
					} else {
						err = g.store.View(ctx, func(v backend.View) error {
							return v.Adjacent(hub, func(row anchor.Adj) error { ids = append(ids, row.Edge); return nil })
						})
					}
					ret := log.now()
					if err != nil {
						return err
					}
					log.add(c, edgeOp{hub, "read", anchor.ID{}}, call, edgeResult{Edges: sortedEdges(ids)}, ret)
					hist.add(name, "read %s: %d edges", hub, len(ids))
				}
			}
			return nil
		})
	}
	if err := gr.Wait(); err != nil {
		t.Fatal(err)
	}
	g.verify(t)
	return log
}

// naiveEdgeHistory records the naive writer's history: a fixed prelude
// that loses an edge for certain, then random concurrent connects and reads.
func naiveEdgeHistory(t *testing.T, g *naiveGraph, seed uint64) *opLog {
	hub := anchor.NewID()
	setup := g.store.NewWalker()
	if err := setup.Set(hub, "_type", "Hub"); err != nil {
		t.Fatal(err)
	}
	if err := setup.Commit(); err != nil {
		t.Fatal(err)
	}
	log := newOpLog()
	hist := g.log()
	read := func(client int) error {
		call := log.now()
		d, err := g.store.Doc(hub)
		ret := log.now()
		if err != nil {
			return err
		}
		log.add(client, edgeOp{hub, "read", anchor.ID{}}, call, edgeResult{Edges: sortedEdges(d.Edges)}, ret)
		hist.add(fmt.Sprintf("client%d", client), "read %s: %d edges", hub, len(d.Edges))
		return nil
	}
	connect := func(client int, w *naive.Walker) error {
		e, err := w.Connect(hub, anchor.NewID())
		if err != nil {
			return err
		}
		call := log.now()
		err = w.Commit()
		ret := log.now()
		log.add(client, edgeOp{hub, "connect", e}, call, edgeResult{Err: errString(err)}, ret)
		logged(hist, fmt.Sprintf("client%d", client), err, "commit connect %s as %s", hub, e)
		return err
	}
	walkers := make([]*naive.Walker, linClients)
	for c := range walkers {
		walkers[c] = g.store.NewWalker()
		if _, err := walkers[c].Load(hub); err != nil {
			t.Fatal(err)
		}
	}
	// Prelude: both walkers hold a copy from before either wrote.
	for _, step := range []func() error{
		func() error { return connect(0, walkers[0]) }, func() error { return read(0) },
		func() error { return connect(1, walkers[1]) }, func() error { return read(1) },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	var gr group
	for c := range linClients {
		gr.Go(fmt.Sprintf("client%d", c), func() error {
			r := rand.New(rand.NewPCG(seed, uint64(c)))
			for range linOps / 2 {
				var err error
				if r.IntN(2) == 0 {
					err = connect(c, walkers[c])
				} else {
					err = read(c)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := gr.Wait(); err != nil {
		t.Fatal(err)
	}
	return log
}

// TestLinearizabilityCheckerRejects proves the checker and model used above
// can fail: hand-made histories with a lost edge, a lying error and a
// resurrected edge are rejected, and legal concurrent histories accepted.
func TestLinearizabilityCheckerRejects(t *testing.T) {
	n, e1, e2 := anchor.NewID(), anchor.NewID(), anchor.NewID()
	op := func(client int, kind string, e anchor.ID, call, ret int64, out edgeResult) porcupine.Operation {
		return porcupine.Operation{ClientId: client, Input: edgeOp{n, kind, e}, Call: call, Output: out, Return: ret}
	}
	ok := edgeResult{}
	failed := edgeResult{Err: "anchorage: anchor deleted"}
	reads := func(ids ...anchor.ID) edgeResult { return edgeResult{Edges: sortedEdges(ids)} }
	cases := []struct {
		name string
		ops  []porcupine.Operation
		want porcupine.CheckResult
	}{
		{"acknowledged connect then a read without it", []porcupine.Operation{
			op(0, "connect", e1, 0, 10, ok),
			op(1, "read", anchor.ID{}, 20, 30, reads()),
		}, porcupine.Illegal},
		{"two concurrent connects, one edge lost (the original bug)", []porcupine.Operation{
			op(0, "connect", e1, 0, 10, ok),
			op(1, "connect", e2, 5, 15, ok),
			op(2, "read", anchor.ID{}, 20, 30, reads(e2)),
		}, porcupine.Illegal},
		{"a failed connect whose edge landed", []porcupine.Operation{
			op(0, "connect", e1, 0, 10, failed),
			op(1, "read", anchor.ID{}, 20, 30, reads(e1)),
		}, porcupine.Illegal},
		{"a disconnected edge comes back", []porcupine.Operation{
			op(0, "connect", e1, 0, 10, ok),
			op(0, "disconnect", e1, 20, 30, ok),
			op(1, "read", anchor.ID{}, 40, 50, reads()),
			op(1, "read", anchor.ID{}, 60, 70, reads(e1)),
		}, porcupine.Illegal},
		{"reads concurrent with the connect may see either state", []porcupine.Operation{
			op(0, "connect", e1, 0, 100, ok),
			op(1, "read", anchor.ID{}, 10, 20, reads()),
			op(2, "read", anchor.ID{}, 30, 40, reads(e1)),
			op(1, "read", anchor.ID{}, 110, 120, reads(e1)),
		}, porcupine.Ok},
		{"concurrent connects both kept, a failed one invisible", []porcupine.Operation{
			op(0, "connect", e1, 0, 10, ok),
			op(1, "connect", e2, 5, 15, ok),
			op(2, "connect", anchor.NewID(), 6, 16, failed),
			op(3, "read", anchor.ID{}, 20, 30, reads(e1, e2)),
		}, porcupine.Ok},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := porcupine.CheckOperationsTimeout(edgeSetModel, c.ops, 10*time.Second); got != c.want {
				t.Errorf("porcupine: %s, want %s", got, c.want)
			}
		})
	}
}
