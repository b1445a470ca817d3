package racetests

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
)

const (
	cascadeStale  = 6
	cascadeRounds = 5
	cascadeRound  = time.Second
)

// TestCascadeSaveDuringChat (scenario 3) pins the second write path of the
// original bug, the one that survived the first fix. Commits merged edge
// deltas by then, but put() — called when creating an edge cascaded a save
// of its endpoints — still wrote whole node documents, outside the
// transaction. A chat request creating messages under a project saved the
// project (and, through it, what it had cached) while other requests
// committed their own stale copies of the root and the project: users lost
// their profile node within seconds of concurrent use, and chat messages
// vanished.
//
// Six "session" walkers load the root and the project, then onboarding adds
// the profile (root->profile). Each round (5 rounds of at least 1 s) a chat
// walker repeatedly creates a message under the project and saves it at
// once with Put (the cascade path: Put of the new edge, which also writes
// the never-stored message), then sets and Puts the project, while the
// session walkers keep setting fields on their stale root and project copies
// and committing; each session walker commits once more after the chat
// stops. The naive writer thus loses the profile edge and every message
// edge, deterministically. Through the engine the root->profile edge is
// never lost (checked each round, also by a fresh walker reading the
// profile) and every message edge survives.
func TestCascadeSaveDuringChat(t *testing.T) {
	runScenario(t, engineBackends(), cascadeSave)
}

func cascadeSave(t *testing.T, g graph) []tally {
	root := g.newRoot(t)
	setup := g.walker(root, "setup")
	project, err := setup.create("Project", map[string]any{"name": "compiler"})
	var projectEdge anchor.ID
	if err == nil {
		projectEdge, err = setup.connect(root, project, "HasProject")
	}
	if err == nil {
		err = setup.commit()
	}
	if err != nil {
		t.Fatal(err)
	}

	// The sessions open before onboarding has stored the profile.
	sessions := make([]walker, cascadeStale)
	for i := range sessions {
		sessions[i] = g.walker(root, fmt.Sprintf("session%d", i))
		for _, id := range []anchor.ID{root, project} {
			if err := sessions[i].load(id); err != nil {
				t.Fatal(err)
			}
		}
	}
	onboard := g.walker(root, "onboarding")
	profile, err := onboard.create("Profile", map[string]any{"name": "ada"})
	var profileEdge anchor.ID
	if err == nil {
		profileEdge, err = onboard.connect(root, profile, "HasProfile")
	}
	if err == nil {
		err = onboard.commit()
	}
	if err != nil {
		t.Fatal(err)
	}

	chat := g.walker(root, "chat")
	if err := chat.load(project); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	messages := make(map[anchor.ID]bool)
	profileSeen, profileChecks := 0, 0
	roundLen := cascadeRound
	if soak := soakFor(t); soak > 0 {
		roundLen = max(roundLen, soak/cascadeRounds)
	}
	repeat(t, cascadeRounds, func(round int) {
		deadline := time.Now().Add(roundLen)
		first, done := newSignal(), newSignal()
		var gr group
		gr.Go("chat", func() error {
			defer done.fire()
			defer first.fire()
			for n := 0; n == 0 || time.Now().Before(deadline); n++ {
				tag := fmt.Sprintf("r%d-m%d", round, n)
				msg, err := chat.create("Message", map[string]any{"text": tag})
				if err != nil {
					return err
				}
				e, err := chat.connect(project, msg, "HasMessage")
				if err != nil {
					return err
				}
				if err := chat.putEdge(e, project, msg); err != nil {
					return err
				}
				mu.Lock()
				messages[e] = true
				mu.Unlock()
				if err := chat.set(project, "last_message", tag); err != nil {
					return err
				}
				if err := chat.put(project); err != nil {
					return err
				}
				first.fire()
			}
			return nil
		})
		gr.Go("profile-watch", func() error {
			// A user reloading their profile page while the chat runs.
			for n := 0; !done.fired(); n++ {
				seen, err := readProfile(g, root, profile, profileEdge, fmt.Sprintf("r%d-watch%d", round, n))
				if err != nil {
					return err
				}
				mu.Lock()
				profileChecks++
				if seen {
					profileSeen++
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
			return nil
		})
		for i, w := range sessions {
			gr.Go(fmt.Sprintf("session%d", i), func() error {
				first.wait()
				touch := func(n int) error {
					tag := fmt.Sprintf("r%d-s%d-%d", round, i, n)
					if err := w.set(root, fmt.Sprintf("seen_%d", i), tag); err != nil {
						return err
					}
					if err := w.set(project, fmt.Sprintf("read_%d", i), tag); err != nil {
						return err
					}
					return w.commit()
				}
				n := 0
				for ; time.Now().Before(deadline); n++ {
					if err := touch(n); err != nil {
						return err
					}
					time.Sleep(time.Millisecond)
				}
				done.wait()
				return touch(n) // a last stale write after the chat stopped
			})
		}
		if err := gr.Wait(); err != nil {
			t.Fatal(err)
		}
		g.verify(t)
		// What a user opening their profile now would see.
		seen, err := readProfile(g, root, profile, profileEdge, fmt.Sprintf("r%d-profile-read", round))
		if err != nil {
			t.Fatal(err)
		}
		profileChecks++
		if seen {
			profileSeen++
		}
	})

	rootEdges, projEdges := g.storedEdges(t, root), g.storedEdges(t, project)
	requireNoStrays(t, root, rootEdges, map[anchor.ID]bool{profileEdge: true, projectEdge: true})
	requireNoStrays(t, project, projEdges, map[anchor.ID]bool{projectEdge: true}, messages)
	return []tally{
		{what: "root->profile edge", expected: 1, stored: countIn(map[anchor.ID]bool{profileEdge: true}, rootEdges), naiveMustLose: true},
		{what: "profile page loads (during and after each round) that found the profile", expected: profileChecks, stored: profileSeen, naiveMustLose: true},
		{what: "message edges saved by cascade Put", expected: len(messages), stored: countIn(messages, projEdges), naiveMustLose: true},
	}
}

// readProfile reports whether a fresh walker finds the root->profile edge
// and reads the profile through it.
func readProfile(g graph, root, profile, profileEdge anchor.ID, name string) (bool, error) {
	w := g.walker(root, name)
	ids, err := w.edges(root)
	if err != nil || !toSet(ids)[profileEdge] {
		return false, err
	}
	v, err := w.field(profile, "name")
	return v == "ada", err
}

func toSet(ids []anchor.ID) map[anchor.ID]bool {
	s := make(map[anchor.ID]bool, len(ids))
	for _, id := range ids {
		s[id] = true
	}
	return s
}
