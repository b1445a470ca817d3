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

	// The system root creates the user's root node.
	user := anchor.NewID()
	sys := tiered.New(store, anchor.SystemRoot, nil)
	if err := sys.CreateAt(user, anchor.KindNode, "Root", nil); err != nil {
		panic(err)
	}
	sys.Grant(ctx, user, user, anchor.Write)
	if err := sys.Commit(ctx); err != nil {
		panic(err)
	}

	a, b := tiered.New(store, user, nil), tiered.New(store, user, nil)
	a.Get(ctx, user) // both load the root before either writes
	b.Get(ctx, user)

	profile, _ := a.Create(anchor.KindNode, "Profile", map[string]any{"name": "ada"})
	a.Connect(ctx, user, profile, "HasProfile", nil)
	a.Set(ctx, user, "plan", "pro")
	if err := a.Commit(ctx); err != nil {
		panic(err)
	}

	msg, _ := b.Create(anchor.KindNode, "Message", map[string]any{"text": "hi"})
	b.Connect(ctx, user, msg, "HasMessage", nil)
	b.Set(ctx, user, "last_seen", 1700000000)
	if err := b.Commit(ctx); err != nil { // b's copy of the root is stale
		panic(err)
	}

	reader := tiered.New(store, user, nil)
	edges, _ := reader.Edges(ctx, user)
	var plan string
	var seen int
	reader.Field(ctx, user, "plan", &plan)
	reader.Field(ctx, user, "last_seen", &seen)
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
	store, _ := bolt.Open(filepath.Join(dir, "graph.db"), nil)
	defer store.Close()
	ctx := context.Background()

	user := anchor.NewID()
	sys := tiered.New(store, anchor.SystemRoot, nil)
	sys.CreateAt(user, anchor.KindNode, "Root", nil)
	sys.Commit(ctx)

	w := tiered.New(store, anchor.SystemRoot, nil)
	msg, _ := w.Create(anchor.KindNode, "Message", map[string]any{"text": "saved now"})
	edge, _ := w.Connect(ctx, user, msg, "HasMessage", nil)
	if err := w.Put(ctx, edge); err != nil {
		panic(err)
	}
	fmt.Println("still dirty:", w.Dirty())
	var text string
	tiered.New(store, anchor.SystemRoot, nil).Field(ctx, msg, "text", &text)
	fmt.Println(text)
	// Output:
	// still dirty: 0
	// saved now
}
