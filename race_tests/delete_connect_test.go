package racetests

import (
	"errors"
	"fmt"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
)

const (
	deleteConnectors = 8
	deleteRounds     = 10
)

// connectOutcome is what one connector did and was told.
type connectOutcome struct {
	name       string
	leaf, edge anchor.ID // edge is zero if Connect itself failed
	afterAck   bool      // the commit began after the delete was acknowledged
	err        error
}

// TestDeleteVsConnect (scenario 5) pins what whole-document writes did to
// deletes: a request deleting a node raced requests connecting to it from
// stale copies. The connectors' writes resurrected the deleted node or left
// edges pointing at it, and every one of them was told it succeeded.
//
// Each round a node with edges (root->doc, doc->child) is deleted by one
// walker while 8 others connect new leaf nodes to it: six loaded it before
// the delete (two of those commit only after the delete was acknowledged,
// the others race it), two load it only after the delete. Afterwards no
// edge points to a deleted node and Verify is clean; each connect either
// landed before the delete and was cascaded with it (its edge is a
// tombstone stamped by the delete) or failed with a typed error (errors.Is
// anchor.ErrDeleted or anchor.ErrIntegrity, an *anchor.Error) and wrote
// nothing; a connect that began after the acknowledged delete always fails.
// 10 rounds.
func TestDeleteVsConnect(t *testing.T) {
	runScenario(t, engineBackends(), deleteVsConnect)
}

func deleteVsConnect(t *testing.T, g graph) []tally {
	root := g.newRoot(t)
	var outcomes, cascaded, refused int
	truthful := 0
	deletes, inEffect := 0, 0
	repeat(t, deleteRounds, func(round int) {
		setup := g.walker(root, fmt.Sprintf("r%d-setup", round))
		doc, err := setup.create("Doc", map[string]any{"round": round})
		var docEdge, childEdge anchor.ID
		if err == nil {
			docEdge, err = setup.connect(root, doc, "HasDoc")
		}
		var child anchor.ID
		if err == nil {
			child, err = setup.create("Section", nil)
		}
		if err == nil {
			childEdge, err = setup.connect(doc, child, "HasSection")
		}
		if err == nil {
			err = setup.commit()
		}
		if err != nil {
			t.Fatal(err)
		}

		const early = 6 // connectors that load the doc before the delete
		loaded := newBarrier(early + 1)
		deleted := newSignal()
		out := make([]connectOutcome, deleteConnectors)
		var gr group
		gr.Go("deleter", func() error {
			defer deleted.fire()
			arrive := loaded.member()
			defer arrive()
			w := g.walker(root, fmt.Sprintf("r%d-deleter", round))
			if err := w.load(doc); err != nil {
				return err
			}
			arrive()
			loaded.wait()
			if err := w.delete(doc); err != nil {
				return err
			}
			return w.commit()
		})
		for i := range deleteConnectors {
			o := &out[i]
			o.name = fmt.Sprintf("r%d-conn%d", round, i)
			gr.Go(o.name, func() error {
				w := g.walker(root, o.name)
				if i < early {
					arrive := loaded.member()
					defer arrive()
					if err := w.load(doc); err != nil {
						return err
					}
					arrive()
					loaded.wait()
				} else {
					deleted.wait()
				}
				var err error
				if o.leaf, err = w.create("Note", map[string]any{"by": o.name}); err != nil {
					return err
				}
				src, dst := o.leaf, doc
				if i%2 == 1 {
					src, dst = doc, o.leaf
				}
				o.edge, o.err = w.connect(src, dst, "About")
				if o.err != nil {
					o.afterAck = deleted.fired()
					return nil
				}
				if i%3 == 0 {
					deleted.wait()
				}
				o.afterAck = deleted.fired()
				o.err = w.commit()
				return nil
			})
		}
		if err := gr.Wait(); err != nil {
			t.Fatal(err)
		}
		g.verify(t)

		deletes++
		switch g := g.(type) {
		case *engineGraph:
			d := g.stored(t, doc)
			if d.Live() {
				t.Errorf("round %d: the deleted doc %s is live", round, doc)
			} else {
				inEffect++
			}
			for _, e := range []anchor.ID{docEdge, childEdge} {
				if a := g.stored(t, e); a.Live() || a.Deleted != d.Deleted {
					t.Errorf("round %d: edge %s of the deleted doc was not cascaded with it (deleted %s, doc %s)", round, e, a.Deleted, d.Deleted)
				}
			}
			if n := len(g.storedEdges(t, doc)); n != 0 {
				t.Errorf("round %d: the deleted doc still has %d adjacency rows", round, n)
			}
			for _, o := range out {
				outcomes++
				if why := g.judge(t, o, d); why != "" {
					t.Errorf("round %d: %s: %s", round, o.name, why)
					g.log().add("check", "%s: %s", o.name, why)
				} else {
					truthful++
				}
				if o.err != nil {
					refused++
				} else {
					cascaded++
				}
			}
		case *naiveGraph:
			d := g.doc(t, doc)
			if d.Deleted {
				inEffect++
			}
			for _, o := range out {
				outcomes++
				// The naive writer cannot cascade (its edges carry no
				// endpoints): a successful connect either undid the delete
				// or left the leaf's edge pointing at a deleted document.
				if o.err != nil {
					truthful++
				} else {
					g.log().add("check", "%s: connect %s acknowledged; doc deleted=%v, after the delete's ack=%v", o.name, o.edge, d.Deleted, o.afterAck)
				}
			}
		}
	})
	if _, ok := g.(*engineGraph); ok {
		t.Logf("connects that landed before the delete and were cascaded: %d; refused with a typed error: %d", cascaded, refused)
	}
	return []tally{
		{what: "acknowledged deletes in effect", expected: deletes, stored: inEffect},
		{what: "connects answered truthfully (cascaded with the delete, or refused with a typed error)", expected: outcomes, stored: truthful, naiveMustLose: true},
	}
}

// judge returns why the engine's answer to one connect racing the delete of
// doc was not the truth, or "" if it was.
func (g *engineGraph) judge(t testing.TB, o connectOutcome, doc *anchor.Anchor) string {
	if o.err != nil {
		var ae *anchor.Error
		if !errors.Is(o.err, anchor.ErrDeleted) && !errors.Is(o.err, anchor.ErrIntegrity) || !errors.As(o.err, &ae) {
			return fmt.Sprintf("connect failed with an untyped or unexpected error: %v", o.err)
		}
		if !o.edge.IsZero() && g.stored(t, o.edge) != nil {
			return fmt.Sprintf("the connect failed (%v) but its edge %s was stored", o.err, o.edge)
		}
		if g.stored(t, o.leaf) != nil {
			return fmt.Sprintf("the connect failed (%v) but the leaf %s created in the same batch was stored", o.err, o.leaf)
		}
		return ""
	}
	if o.afterAck {
		return fmt.Sprintf("a connect committed after the delete of %s was acknowledged succeeded", doc.ID)
	}
	e := g.stored(t, o.edge)
	switch {
	case e == nil:
		return fmt.Sprintf("the connect succeeded but its edge %s is not stored", o.edge)
	case e.Live():
		return fmt.Sprintf("edge %s to the deleted doc is live", o.edge)
	case e.Deleted != doc.Deleted:
		return fmt.Sprintf("edge %s was deleted at %s, not by the doc's delete at %s", o.edge, e.Deleted, doc.Deleted)
	}
	if l := g.stored(t, o.leaf); l == nil || !l.Live() {
		return fmt.Sprintf("the connect succeeded but its leaf %s is not stored live", o.leaf)
	}
	return ""
}
