package racetests

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/tiered"
)

const (
	truthWalkers = 16
	truthCommits = 25
	truthRounds  = 2
)

// TestCommitErrorsTellTheTruth pins the neighbouring failure the design
// names: a runtime under 32 concurrent writers logged and swallowed
// "database is locked", and once raised an error for a commit whose edge
// still landed. Here 16 walkers add edges to one root, each commit under a
// context that expires after a random 0-3 ms, so many give up while queued
// behind the others or inside the group commit. Afterwards every commit
// answered nil has its edge (and its new node) stored, and every commit
// answered with an error stored nothing, and its error is the context's or
// a typed anchor.ErrBusy — never a raw database error.
func TestCommitErrorsTellTheTruth(t *testing.T) {
	for _, b := range engineBackends() {
		t.Run(b.name, func(t *testing.T) {
			g := openEngine(t, b)
			root := g.newRoot(t)
			type outcome struct {
				name       string
				edge, leaf anchor.ID
				err        error
			}
			var mu sync.Mutex
			var outcomes []outcome
			repeat(t, truthRounds, func(round int) {
				start := newBarrier(truthWalkers)
				var gr group
				for i := range truthWalkers {
					name := fmt.Sprintf("r%d-w%d", round, i)
					gr.Go(name, func() error {
						r := rand.New(rand.NewPCG(uint64(round), uint64(i)))
						arrive := start.member()
						defer arrive()
						arrive()
						start.wait()
						for j := range truthCommits {
							m := tiered.New(g.store, root, nil)
							leaf, err := m.Create(anchor.KindNode, "Item", map[string]any{"j": j})
							if err != nil {
								return err
							}
							e, err := m.Connect(ctx, root, leaf, "Has", nil)
							if err != nil {
								return err
							}
							cctx, cancel := context.WithTimeout(ctx, time.Duration(r.IntN(3000))*time.Microsecond)
							err = m.Commit(cctx)
							cancel()
							logged(g.log(), name, err, "commit %s -> %s as %s", root, leaf, e)
							mu.Lock()
							outcomes = append(outcomes, outcome{fmt.Sprintf("%s-c%d", name, j), e, leaf, err})
							mu.Unlock()
						}
						return nil
					})
				}
				if err := gr.Wait(); err != nil {
					t.Fatal(err)
				}
				g.verify(t)
			})
			// Callers giving up must not leave the store unable to write.
			after := tiered.New(g.store, root, nil)
			leaf, err := after.Create(anchor.KindNode, "Item", nil)
			var e anchor.ID
			if err == nil {
				e, err = after.Connect(ctx, root, leaf, "Has", nil)
			}
			if err != nil {
				t.Fatal(err)
			}
			err = after.Commit(ctx)
			outcomes = append(outcomes, outcome{"after the rounds, no deadline", e, leaf, err})
			if err != nil {
				t.Errorf("after the rounds, a commit with no deadline failed: %v", err)
			}
			stored := g.storedEdges(t, root)
			acked, refused, lies := 0, 0, 0
			for _, o := range outcomes {
				var why string
				switch {
				case o.err == nil:
					acked++
					if !stored[o.edge] || g.stored(t, o.leaf) == nil {
						why = "acknowledged, but its edge or node is not stored"
					}
				default:
					refused++
					ctxErr := errors.Is(o.err, context.DeadlineExceeded) || errors.Is(o.err, context.Canceled)
					switch {
					case stored[o.edge] || g.stored(t, o.edge) != nil || g.stored(t, o.leaf) != nil:
						why = fmt.Sprintf("answered %v, but its batch landed", o.err)
					case !ctxErr && !errors.Is(o.err, anchor.ErrBusy):
						why = fmt.Sprintf("failed with %v, neither the context's error nor anchor.ErrBusy", o.err)
					case !ctxErr:
						why = fmt.Sprintf("busy error %v does not carry the context's error that explains it", o.err)
					}
				}
				if why != "" {
					lies++
					t.Errorf("%s: %s", o.name, why)
				}
			}
			t.Logf("engine on %s: %d commits acknowledged (all stored), %d refused (none stored), %d untruthful answers", b.name, acked, refused, lies)
			if refused == 0 {
				t.Logf("no commit ran out of time on this machine; the refused path went unexercised")
			}
			requireNoStrays(t, root, stored, func() map[anchor.ID]bool {
				m := map[anchor.ID]bool{}
				for _, o := range outcomes {
					if o.err == nil {
						m[o.edge] = true
					}
				}
				return m
			}())
		})
	}
}
