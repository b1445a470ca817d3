package tiered_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/tiered"
)

// Two walkers hold stale copies of the same user root. Each adds an edge
// and sets a different field; both commits land, because each sends only
// what it changed.
func Example() {
	dir, _ := os.MkdirTemp("", "anchorage-example")
	defer os.RemoveAll(dir)
	store, err := bolt.Open(filepath.Join(dir, "graph.db"), nil)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ctx := context.Background()

	// The user's root node, which owns itself.
	user, err := tiered.CreateRoot(ctx, store, nil)
	if err != nil {
		panic(err)
	}

	a, b := tiered.New(store, user, nil), tiered.New(store, user, nil)
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	_, err = a.Get(ctx, user) // both load the root before either writes
	must(err)
	_, err = b.Get(ctx, user)
	must(err)

	profile, err := a.Create(anchor.KindNode, "Profile", map[string]any{"name": "ada"})
	must(err)
	_, err = a.Connect(ctx, user, profile, "HasProfile", nil)
	must(err)
	must(a.Set(ctx, user, "plan", "pro"))
	must(a.Commit(ctx))

	msg, err := b.Create(anchor.KindNode, "Message", map[string]any{"text": "hi"})
	must(err)
	_, err = b.Connect(ctx, user, msg, "HasMessage", nil)
	must(err)
	must(b.Set(ctx, user, "last_seen", 1700000000))
	must(b.Commit(ctx)) // b's copy of the root is stale

	reader := tiered.New(store, user, nil)
	edges, err := reader.Edges(ctx, user)
	must(err)
	var plan string
	var seen int
	must(reader.Field(ctx, user, "plan", &plan))
	must(reader.Field(ctx, user, "last_seen", &seen))
	fmt.Println("edges:", len(edges))
	fmt.Println("plan:", plan, "last_seen:", seen)
	// Output:
	// edges: 2
	// plan: pro last_seen: 1700000000
}

// Put writes one anchor immediately: here a new edge, together with the
// message node it points to (the cascade-save path).
func ExampleMemory_Put() {
	dir, _ := os.MkdirTemp("", "anchorage-example")
	defer os.RemoveAll(dir)
	store, err := bolt.Open(filepath.Join(dir, "graph.db"), nil)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	ctx := context.Background()

	user, err := tiered.CreateRoot(ctx, store, nil)
	if err != nil {
		panic(err)
	}
	w := tiered.New(store, user, nil)
	msg, err := w.Create(anchor.KindNode, "Message", map[string]any{"text": "saved now"})
	if err != nil {
		panic(err)
	}
	edge, err := w.Connect(ctx, user, msg, "HasMessage", nil)
	if err != nil {
		panic(err)
	}
	if err := w.Put(ctx, edge); err != nil {
		panic(err)
	}
	fmt.Println("still dirty:", w.Dirty())
	var text string
	if err := tiered.New(store, user, nil).Field(ctx, msg, "text", &text); err != nil {
		panic(err)
	}
	fmt.Println(text)
	// Output:
	// still dirty: 0
	// saved now
}
