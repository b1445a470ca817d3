package racetests

import (
	"fmt"
	"sync"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

const (
	reproTouchers = 30
	reproRounds   = 10
)

// TestMinimalRepro (scenario 1) pins the original bug in its smallest form.
// A graph runtime cached nodes per request; each node carried its own edge
// list and every write stored the whole node document. One request added an
// item to the user's root while other requests, each holding the root they
// had loaded earlier, touched it (set a field, commit): their whole-document
// writes erased the item edge.
//
// Each round, one walker adds an item node to a shared root while 30
// concurrent walkers load the root and touch it. All 31 load before anyone
// writes; half the touchers commit strictly after the item edge landed (so
// the naive writer loses the edge every round, not by luck), the other half
// race with it. 10 rounds. Through the engine every item edge survives, on
// bolt and sqlite, with their cheaper durability settings, with the
// defaults (fsync at every commit), and with group commit off.
func TestMinimalRepro(t *testing.T) {
	backends := append(engineBackends(),
		backendCase{name: "bolt-sync", open: boltOpener(bolt.Options{})},
		backendCase{name: "sqlite-sync", open: sqliteOpener(sqlite.Options{})},
		backendCase{name: "bolt-nogroup", open: boltOpener(bolt.Options{NoSync: true, NoGroupCommit: true})},
		backendCase{name: "sqlite-nogroup", open: sqliteOpener(sqlite.Options{Synchronous: sqlite.SyncNormal, NoGroupCommit: true})})
	runScenario(t, backends, minimalRepro)
}

func minimalRepro(t *testing.T, g graph) []tally {
	root := g.newRoot(t)
	var mu sync.Mutex
	items := make(map[anchor.ID]bool)
	repeat(t, reproRounds, func(round int) {
		loaded := newBarrier(reproTouchers + 1)
		added := newSignal()
		var gr group
		gr.Go("adder", func() error {
			defer added.fire()
			arrive := loaded.member()
			defer arrive()
			w := g.walker(root, fmt.Sprintf("r%d-adder", round))
			if err := w.load(root); err != nil {
				return err
			}
			arrive()
			loaded.wait()
			item, err := w.create("Item", map[string]any{"round": round})
			if err != nil {
				return err
			}
			e, err := w.connect(root, item, "HasItem")
			if err != nil {
				return err
			}
			if err := w.commit(); err != nil {
				return err
			}
			mu.Lock()
			items[e] = true
			mu.Unlock()
			return nil
		})
		for i := range reproTouchers {
			name := fmt.Sprintf("r%d-touch%d", round, i)
			gr.Go(name, func() error {
				arrive := loaded.member()
				defer arrive()
				w := g.walker(root, name)
				if err := w.load(root); err != nil {
					return err
				}
				arrive()
				loaded.wait()
				if i%2 == 0 {
					added.wait() // a stale copy written after the edge landed
				}
				if err := w.set(root, "last_seen", name); err != nil {
					return err
				}
				return w.commit()
			})
		}
		if err := gr.Wait(); err != nil {
			t.Fatal(err)
		}
		g.verify(t)
	})
	stored := g.storedEdges(t, root)
	requireNoStrays(t, root, stored, items)
	return []tally{{what: "item edges on the root", expected: len(items), stored: countIn(items, stored), naiveMustLose: true}}
}
