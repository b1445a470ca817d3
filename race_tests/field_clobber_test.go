package racetests

import (
	"fmt"
	"sync"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
)

const (
	clobberWalkers = 8
	clobberWrites  = 5
	clobberRounds  = 10
)

// TestFieldClobber (scenario 4) pins the scalar half of the bug: the runtime
// stored whole objects, so a request that changed one field of a node wrote
// back every other field as it had loaded them, undoing fields other
// requests had changed meanwhile (its later fix added per-field dirty
// tracking).
//
// Each round, 8 walkers load the same profile node (all before anyone
// writes), then each sets its own field several times from its stale copy,
// committing after each write; every commit also sets a shared field to a
// value unique to that commit. Every field's last write survives: field i
// holds walker i's last value, and (through the engine, where commits are
// stamped) the shared field holds the value of the commit with the highest
// stamp: the later commit wins. 10 rounds.
func TestFieldClobber(t *testing.T) {
	runScenario(t, engineBackends(), fieldClobber)
}

func fieldClobber(t *testing.T, g graph) []tally {
	root := g.newRoot(t)
	setup := g.walker(root, "setup")
	fields := map[string]any{"shared": "init"}
	for i := range clobberWalkers {
		fields[fieldName(i)] = "init"
	}
	node, err := setup.create("Profile", fields)
	if err == nil {
		_, err = setup.connect(root, node, "HasProfile")
	}
	if err == nil {
		err = setup.commit()
	}
	if err != nil {
		t.Fatal(err)
	}

	expected, survived := 0, 0
	sharedRounds, sharedWon := 0, 0
	repeat(t, clobberRounds, func(round int) {
		loaded := newBarrier(clobberWalkers)
		last := make([]string, clobberWalkers)
		type commitRec struct {
			stamp anchor.HLC
			value string
		}
		var mu sync.Mutex
		var commits []commitRec
		var gr group
		for i := range clobberWalkers {
			name := fmt.Sprintf("r%d-w%d", round, i)
			gr.Go(name, func() error {
				arrive := loaded.member()
				defer arrive()
				w := g.walker(root, name)
				if err := w.load(node); err != nil {
					return err
				}
				arrive()
				loaded.wait()
				for j := range clobberWrites {
					v := fmt.Sprintf("%s-v%d", name, j)
					if err := w.set(node, fieldName(i), v); err != nil {
						return err
					}
					if err := w.set(node, "shared", v); err != nil {
						return err
					}
					if err := w.commit(); err != nil {
						return err
					}
					last[i] = v
					if ew, ok := w.(*engineWalker); ok {
						stamp, err := ew.fieldStamp(node, "shared")
						if err != nil {
							return err
						}
						mu.Lock()
						commits = append(commits, commitRec{stamp, v})
						mu.Unlock()
					}
				}
				return nil
			})
		}
		if err := gr.Wait(); err != nil {
			t.Fatal(err)
		}
		g.verify(t)
		for i, v := range last {
			expected++
			if got, _ := g.storedField(t, node, fieldName(i)); got == v {
				survived++
			} else {
				g.log().add("check", "field %s: stored %q, walker %d's last write %q", fieldName(i), got, i, v)
			}
		}
		if eg, ok := g.(*engineGraph); ok {
			sharedRounds++
			var win commitRec
			stamps := make(map[anchor.HLC]string)
			for _, c := range commits {
				if prev, dup := stamps[c.stamp]; dup {
					t.Errorf("commits %q and %q got the same stamp %s", prev, c.value, c.stamp)
				}
				stamps[c.stamp] = c.value
				if c.stamp > win.stamp {
					win = c
				}
			}
			a := eg.stored(t, node)
			var got string
			if err := a.Field("shared", &got); err != nil {
				t.Fatal(err)
			}
			if got == win.value && a.Fields["shared"].Stamp == win.stamp {
				sharedWon++
			} else {
				t.Errorf("round %d: shared field holds %q (stamp %s); the last commit (stamp %s) wrote %q",
					round, got, a.Fields["shared"].Stamp, win.stamp, win.value)
			}
		}
	})
	tallies := []tally{{what: "fields holding their walker's last write", expected: expected, stored: survived, naiveMustLose: true}}
	if _, ok := g.(*engineGraph); ok {
		tallies = append(tallies, tally{what: "rounds where the shared field holds the latest-stamped commit", expected: sharedRounds, stored: sharedWon})
	}
	return tallies
}

func fieldName(i int) string { return fmt.Sprintf("field_%d", i) }
