package sqlite_test

import (
	"context"
	"fmt"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"log"
	"os"
	"path/filepath"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend/sqlite"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// A walker connects a new profile to its user's root node and commits;
// any other process with the same file open sees the edge at once.
func Example() {
	dir, err := os.MkdirTemp("", "anchorage-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := sqlite.Open(filepath.Join(dir, "graph.sqlite"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	ctx := context.Background()

	// The user's root node, created by the system root.
	user := anchor.NewID()
	rootNode := &anchor.Anchor{ID: user, Kind: anchor.KindNode, Owner: user, Type: "Root"}
	if err := backendtest.Apply(ctx, store, &delta.Batch{Changes: []delta.Change{{ID: user, Create: rootNode}}}); err != nil {
		log.Fatal(err)
	}

	w := tiered.New(store, user, nil)
	profile, _ := w.Create(anchor.KindNode, "Profile", map[string]any{"name": "ada"})
	if _, err := w.Connect(ctx, user, profile, "HasProfile", nil); err != nil {
		log.Fatal(err)
	}
	if err := w.Commit(ctx); err != nil {
		log.Fatal(err)
	}

	// A reader in another process would open the file with ReadOnly.
	ro, err := sqlite.Open(store.Path(), &sqlite.Options{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer ro.Close()
	edges, err := tiered.New(ro, user, nil).Edges(ctx, user)
	if err != nil {
		log.Fatal(err)
	}
	var name string
	if err := tiered.New(ro, user, nil).Field(ctx, edges[0].Peer, "name", &name); err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(edges), edges[0].Type, name)
	// Output: 1 HasProfile ada
}
