package anchorage_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/anchorage-db/anchorage"
	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/tiered"
)

// A user's root node is created once, by the system root; then each walker
// works in its own Memory and commits what it changed as one batch. The
// README shows this body as it is (TestReadmeSnippetsAreExamples).
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

	// Once per user: the system root creates the user's root node and
	// lets it write to itself.
	userRoot := anchor.NewID()
	sys := tiered.New(store, anchor.SystemRoot, nil)
	if err := sys.CreateAt(userRoot, anchor.KindNode, "Root", nil); err != nil {
		log.Fatal(err)
	}
	if err := sys.Grant(ctx, userRoot, userRoot, anchor.Write); err != nil {
		log.Fatal(err)
	}
	if err := sys.Commit(ctx); err != nil {
		log.Fatal(err)
	}

	// One Memory per walker, acting as the user's root.
	w := tiered.New(store, userRoot, nil)
	profile, err := w.Create(anchor.KindNode, "Profile", map[string]any{"name": "ada"})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := w.Connect(ctx, userRoot, profile, "HasProfile", nil); err != nil {
		log.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil { // one atomic batch
		log.Fatal(err)
	}

	edges, err := tiered.New(store, userRoot, nil).Edges(ctx, userRoot)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("edges of the user's root:", len(edges))
	// Output: edges of the user's root: 1
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
