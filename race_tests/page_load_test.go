package racetests

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/anchorage-db/anchorage/anchor"
)

const pageLoadRounds = 20

// pageWalker is one kind of request an IDE page load fires at once.
type pageWalker struct {
	name string
	// loads are what the request reads before anything is written.
	loads func(s *pageState) []anchor.ID
	// run does the request's work after the loads and returns the edge it
	// added, if any; the request then commits.
	run func(w walker, s *pageState, tag string) (anchor.ID, error)
	// adds: the request adds an edge. after: the request commits only once
	// every adding request has committed, so the naive writer's stale
	// copies deterministically overwrite the new edges.
	adds, after bool
}

type pageState struct {
	root, profile, project anchor.ID
	profileEdge            anchor.ID
}

// requireEdge fails unless edge is among the node's edges as the walker sees them.
func requireEdge(w walker, node, edge anchor.ID, what string) error {
	ids, err := w.edges(node)
	if err != nil {
		return err
	}
	if !slices.Contains(ids, edge) {
		return fmt.Errorf("%s: edge %s missing from %s's %d edges", what, edge, node, len(ids))
	}
	return nil
}

func addUnder(w walker, parent anchor.ID, typ, edgeType, tag string) (anchor.ID, error) {
	n, err := w.create(typ, map[string]any{"tag": tag})
	if err != nil {
		return anchor.ID{}, err
	}
	return w.connect(parent, n, edgeType)
}

// pageWalkers are the 12 requests of one IDE page load.
var pageWalkers = []pageWalker{
	{name: "profile-read", after: true,
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.root} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			if err := requireEdge(w, s.root, s.profileEdge, "profile read"); err != nil {
				return anchor.ID{}, err
			}
			if _, err := w.field(s.profile, "name"); err != nil {
				return anchor.ID{}, err
			}
			return anchor.ID{}, w.set(s.root, "last_seen", tag)
		}},
	{name: "project-list", after: true,
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.root, s.project} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			if _, err := w.edges(s.root); err != nil {
				return anchor.ID{}, err
			}
			return anchor.ID{}, w.set(s.project, "opened_at", tag)
		}},
	{name: "version-list", after: true,
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.project} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			if _, err := w.edges(s.project); err != nil {
				return anchor.ID{}, err
			}
			return anchor.ID{}, w.set(s.project, "versions_viewed", tag)
		}},
	{name: "status",
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.root} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			return anchor.ID{}, w.set(s.root, "status", tag)
		}},
	{name: "new-version", adds: true,
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.project} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			if err := w.set(s.project, "head", tag); err != nil {
				return anchor.ID{}, err
			}
			return addUnder(w, s.project, "Version", "HasVersion", tag)
		}},
	{name: "new-message", adds: true,
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.project} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			return addUnder(w, s.project, "Message", "HasMessage", tag)
		}},
	{name: "new-session", adds: true,
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.root} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			return addUnder(w, s.root, "Session", "HasSession", tag)
		}},
	{name: "settings",
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.root, s.profile} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			return anchor.ID{}, w.set(s.profile, "theme", tag)
		}},
	{name: "notifications", adds: true,
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.root} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			return addUnder(w, s.root, "Notification", "HasNotification", tag)
		}},
	{name: "file-tree", after: true,
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.project} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			return anchor.ID{}, w.set(s.project, "tree", tag)
		}},
	{name: "presence",
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.root, s.project} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			if err := w.set(s.root, "presence", tag); err != nil {
				return anchor.ID{}, err
			}
			return anchor.ID{}, w.set(s.project, "presence", tag)
		}},
	{name: "chat-history", after: true,
		loads: func(s *pageState) []anchor.ID { return []anchor.ID{s.root, s.project} },
		run: func(w walker, s *pageState, tag string) (anchor.ID, error) {
			if _, err := w.edges(s.project); err != nil {
				return anchor.ID{}, err
			}
			// The runtime saved every anchor a request had loaded.
			if err := w.touch(s.root); err != nil {
				return anchor.ID{}, err
			}
			return anchor.ID{}, w.touch(s.project)
		}},
}

// TestPageLoad (scenario 2) pins the bug as users met it: opening the IDE
// fires a dozen requests at once, each loading the user's root (and
// project), reading, and committing what it loaded. With whole-document
// writes, the requests that only read and touched the root or project
// erased the sessions, notifications, versions and messages the others had
// just added.
//
// Each round, 12 walkers of different kinds (profile read, project list,
// version list, status, new version, new message, new session, settings,
// notifications, file tree, presence, chat history) all load first; the four
// that add an edge commit; the stale readers commit after them, the rest
// race freely. 20 rounds. Through the engine the root->profile edge and
// every added edge survive, and every profile read sees the profile.
func TestPageLoad(t *testing.T) {
	runScenario(t, engineBackends(), pageLoad)
}

func pageLoad(t *testing.T, g graph) []tally {
	s := &pageState{root: g.newRoot(t)}
	setup := g.walker(s.root, "setup")
	var err error
	s.profile, err = setup.create("Profile", map[string]any{"name": "ada"})
	if err == nil {
		s.profileEdge, err = setup.connect(s.root, s.profile, "HasProfile")
	}
	if err == nil {
		s.project, err = setup.create("Project", map[string]any{"name": "compiler"})
	}
	var projectEdge anchor.ID
	if err == nil {
		projectEdge, err = setup.connect(s.root, s.project, "HasProject")
	}
	if err == nil {
		err = setup.commit()
	}
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	added := map[anchor.ID]bool{}
	adders := 0
	for _, k := range pageWalkers {
		if k.adds {
			adders++
		}
	}
	repeat(t, pageLoadRounds, func(round int) {
		loaded := newBarrier(len(pageWalkers))
		addsDone := newBarrier(adders)
		var gr group
		for _, k := range pageWalkers {
			tag := fmt.Sprintf("r%d-%s", round, k.name)
			gr.Go(tag, func() error {
				arrive := loaded.member()
				defer arrive()
				var addDone func()
				if k.adds {
					addDone = addsDone.member()
					defer addDone()
				}
				w := g.walker(s.root, tag)
				for _, id := range k.loads(s) {
					if err := w.load(id); err != nil {
						return err
					}
				}
				arrive()
				loaded.wait()
				e, err := k.run(w, s, tag)
				if err != nil {
					return err
				}
				if k.after {
					addsDone.wait()
				}
				if err := w.commit(); err != nil {
					return err
				}
				if k.adds {
					mu.Lock()
					added[e] = true
					mu.Unlock()
					addDone()
				}
				return nil
			})
		}
		if err := gr.Wait(); err != nil {
			t.Fatal(err)
		}
		g.verify(t)
	})

	rootEdges, projEdges := g.storedEdges(t, s.root), g.storedEdges(t, s.project)
	fixed := map[anchor.ID]bool{s.profileEdge: true, projectEdge: true}
	requireNoStrays(t, s.root, rootEdges, fixed, added)
	requireNoStrays(t, s.project, projEdges, fixed, added)
	addedStored := 0
	for e := range added {
		if rootEdges[e] || projEdges[e] {
			addedStored++
		}
	}
	return []tally{
		{what: "root->profile edge", expected: 1, stored: countIn(map[anchor.ID]bool{s.profileEdge: true}, rootEdges)},
		{what: "edges added by page-load requests", expected: len(added), stored: addedStored, naiveMustLose: true},
	}
}
