package bolt_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// damageStore builds the undamaged store of the random-damage test at dir:
// about 1 MiB of nodes with fields, edges between them and some deleted
// anchors, its contents drawn from seed. It returns the file and the IDs
// of every anchor written (nodes first).
func damageStore(t testing.TB, dir string, seed uint64) (string, []anchor.ID, []anchor.ID) {
	path := filepath.Join(dir, "template.db")
	s, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(seed, 1))
	root := anchor.NewID()
	if err := backendtest.Apply(ctx, s, &delta.Batch{Changes: []delta.Change{{ID: root, Create: &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root"}}}}); err != nil {
		t.Fatal(err)
	}
	nodes, all := []anchor.ID{root}, []anchor.ID{root}
	for batch := range 4 {
		m := tiered.New(s, root, nil)
		for range 100 {
			id, err := m.Create(anchor.KindNode, fmt.Sprintf("T%d", r.IntN(5)), map[string]any{
				"name": strings.Repeat(string(rune('a'+r.IntN(26))), 8+r.IntN(40)), "n": r.Int64(), "batch": batch})
			if err != nil {
				t.Fatal(err)
			}
			nodes, all = append(nodes, id), append(all, id)
		}
		for range 80 {
			a, b := nodes[r.IntN(len(nodes))], nodes[r.IntN(len(nodes))]
			if a == b {
				continue
			}
			e, err := m.Connect(ctx, a, b, fmt.Sprintf("E%d", r.IntN(3)), map[string]any{"w": r.Float64()})
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, e)
		}
		if err := m.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	}
	m := tiered.New(s, root, nil)
	for range 30 { // tombstones, and edges that went with them
		if err := m.Delete(ctx, nodes[1+r.IntN(len(nodes)-1)]); err != nil && !errors.Is(err, anchor.ErrDeleted) {
			t.Fatal(err)
		}
	}
	if err := m.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return path, nodes, all
}

// readResult is one read of readEverything: its answer's digest, or the
// error it gave.
type readResult struct {
	key, digest string
	err         error
}

func digest(parts ...any) string {
	h := sha256.Sum256(fmt.Append(nil, parts...))
	return hex.EncodeToString(h[:8])
}

// readEverything opens path and reads every anchor, every node's
// adjacency, the change log and the meta through backend.View, then runs
// Verify and (unless readOnly) one write. It returns each read's result;
// an error of Open is the single result "open".
func readEverything(path string, readOnly bool, nodes, all []anchor.ID) []readResult {
	// A read-write open upgrades an older schema in place: the meta read
	// must keep the store's identity and clocks, while its schema number
	// may rise, so it is compared as the file held it before the open.
	schema := -1
	if ro, err := bolt.Open(path, &bolt.Options{ReadOnly: true, Timeout: time.Second}); err == nil {
		ro.View(context.Background(), func(v backend.View) error { schema = v.Meta().Schema; return nil }) //nolint:errcheck // -1 keeps the schema as read
		ro.Close()
	}
	s, err := bolt.Open(path, &bolt.Options{ReadOnly: readOnly, NoSync: true, Timeout: time.Second})
	if err != nil {
		return []readResult{{key: "open", err: err}}
	}
	defer s.Close()
	ctx := context.Background()
	var out []readResult
	view := func(key string, fn func(v backend.View) (string, error)) {
		var d string
		err := s.View(ctx, func(v backend.View) (err error) { d, err = fn(v); return err })
		out = append(out, readResult{key: key, digest: d, err: err})
	}
	for _, id := range all {
		view("anchor "+id.String(), func(v backend.View) (string, error) {
			a, err := v.Anchor(id)
			if err != nil {
				if errors.Is(err, anchor.ErrNotFound) {
					return "not found", nil // a lie unless the original said so too
				}
				return "", err
			}
			b, err := anchor.Marshal(a)
			return digest(b), err
		})
	}
	for _, id := range nodes {
		view("adjacent "+id.String(), func(v backend.View) (string, error) {
			var rows []anchor.Adj
			err := v.Adjacent(id, func(a anchor.Adj) error { rows = append(rows, a); return nil })
			// The set of rows, in edge-ID order (the order the digests of
			// the saved samples were taken in).
			slices.SortFunc(rows, func(a, b anchor.Adj) int { return bytes.Compare(a.Edge[:], b.Edge[:]) })
			return digest(rows), err
		})
	}
	view("changes", func(v backend.View) (string, error) {
		var log []string
		err := v.Changes(0, func(seq uint64, id anchor.ID) error { log = append(log, fmt.Sprint(seq, id)); return nil })
		return digest(log), err
	})
	view("meta", func(v backend.View) (string, error) {
		m := v.Meta()
		if schema >= 0 && m.Schema > schema {
			m.Schema = schema
		}
		return digest(m), nil
	})
	rep, err := backend.Verify(ctx, s)
	if err == nil && !rep.Clean() {
		err = fmt.Errorf("%w: Verify: %v", anchor.ErrCorrupt, rep.Problems[0])
	}
	out = append(out, readResult{key: "verify", err: err})
	if !readOnly {
		err := backendtest.Apply(ctx, s, &delta.Batch{Changes: []delta.Change{{ID: nodes[0], Set: map[string][]byte{"touched": {0xc3}}}}})
		if err != nil && !backendtest.Typed(err) {
			err = fmt.Errorf("untyped write error: %w", err)
		}
		out = append(out, readResult{key: "write", err: err})
	}
	return out
}
