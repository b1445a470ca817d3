package anchorage_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/anchorage-db/anchorage"
	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// A user's root is created once; each walker then works in its own Memory
// and commits what it changed as one batch. The "me" walker finds the
// root's profile or creates it, exactly once however many run at a time,
// because HasProfile is declared create-once. The README shows this body
// as it is (TestReadmeSnippetsAreExamples).
func Example() {
	dir, err := os.MkdirTemp("", "anchorage-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	// A bolt file; "graph.sqlite" or "postgres://..." switch the backend.
	store, err := anchorage.Open(filepath.Join(dir, "graph.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	// Once per store: a root has at most one HasProfile edge.
	if _, err := store.Apply(ctx, &delta.Declare{Indexes: delta.Indexes{Once: []string{"HasProfile"}}}); err != nil {
		log.Fatal(err)
	}
	// Once per user: a root node that owns itself.
	userRoot, err := tiered.CreateRoot(ctx, store, map[string]any{"user": "ada"})
	if err != nil {
		log.Fatal(err)
	}

	// One Memory per walker, acting as the user's root.
	w := tiered.New(store, userRoot, nil)
	profile, created, err := w.FindOrCreate(ctx, userRoot, "HasProfile", anchor.KindNode, "Profile", map[string]any{"name": "ada"})
	if err != nil {
		log.Fatal(err)
	}
	todo, err := w.Create(anchor.KindNode, "Todo", map[string]any{"title": "write docs"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := w.Connect(ctx, userRoot, todo, "HasTodo", nil); err != nil {
		log.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil { // one atomic batch
		log.Fatal(err)
	}

	// Another walker finds the same profile, and lists only the todos.
	r := tiered.New(store, userRoot, nil)
	again, _, err := r.FindOrCreate(ctx, userRoot, "HasProfile", anchor.KindNode, "Profile", nil)
	if err != nil {
		log.Fatal(err)
	}
	todos, _, err := r.EdgePage(ctx, userRoot, delta.EdgeQuery{Dir: anchor.Out, Type: "HasTodo"}, 100)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", created, "same profile:", again.ID == profile.ID, "todos:", len(todos))
	// Output: created: true same profile: true todos: 1
}

// Open picks the backend from the name; each line switches the program
// to another one.
func ExampleLocate() {
	for _, dsn := range []string{"graph.db", "bolt://graph.sqlite", "graph.sqlite", "sqlite://graph.db", "postgres://app@db.example/graph"} {
		name, target := anchorage.Locate(dsn)
		fmt.Printf("%-32s %-8s %s\n", dsn, name, target)
	}
	// Output:
	// graph.db                         bolt     graph.db
	// bolt://graph.sqlite              bolt     graph.sqlite
	// graph.sqlite                     sqlite   graph.sqlite
	// sqlite://graph.db                sqlite   graph.db
	// postgres://app@db.example/graph  postgres postgres://app@db.example/graph
}
