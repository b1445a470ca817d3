package bolt_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	bbolt "go.etcd.io/bbolt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/backendtest"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/delta"
	"github.com/anchorage-db/anchorage/tiered"
)

// The raw layout FuzzStoredRows damages, as bolt.go writes it.
var rawBuckets = []string{"anchors", "log", "index"}

// fuzzStore is a small real store (a root, two nodes, a directed and an
// undirected edge) kept as file bytes, with its raw rows.
type fuzzStore struct {
	file  []byte
	nodes []anchor.ID            // root first
	rows  map[string][][2][]byte // bucket -> (key, value) pairs
}

func buildFuzzStore(f *testing.F) *fuzzStore {
	path := filepath.Join(f.TempDir(), "template.db")
	s, err := bolt.Open(path, &bolt.Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	root := anchor.NewID()
	err = backendtest.Apply(ctx, s, &delta.Batch{Changes: []delta.Change{{ID: root, Create: &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root"}}}})
	if err != nil {
		f.Fatal(err)
	}
	m := tiered.New(s, root, nil)
	n1, _ := m.Create(anchor.KindNode, "Profile", map[string]any{"name": "ada", "age": 36})
	n2, _ := m.Create(anchor.KindNode, "Post", map[string]any{"tags": []string{"a", "b"}})
	if _, err := m.Connect(ctx, root, n1, "HasProfile", map[string]any{"since": 2024}); err != nil {
		f.Fatal(err)
	}
	if _, err := m.ConnectUndirected(ctx, n1, n2, "Wrote", nil); err != nil {
		f.Fatal(err)
	}
	if err := m.Commit(ctx); err != nil {
		f.Fatal(err)
	}
	if err := s.Close(); err != nil {
		f.Fatal(err)
	}
	fs := &fuzzStore{nodes: []anchor.ID{root, n1, n2}, rows: map[string][][2][]byte{}}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		f.Fatal(err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		for _, b := range rawBuckets {
			err := tx.Bucket([]byte(b)).ForEach(func(k, v []byte) error {
				fs.rows[b] = append(fs.rows[b], [2][]byte{bytes.Clone(k), bytes.Clone(v)})
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	if err := db.Close(); err != nil {
		f.Fatal(err)
	}
	if fs.file, err = os.ReadFile(path); err != nil {
		f.Fatal(err)
	}
	return fs
}

// FuzzStoredRows writes fuzz bytes as one raw row of a real store file (an
// anchor record, a change-log entry or a secondary-index entry, under a new
// key or over an existing one), then opens the store with bolt.Open and
// reads and writes through it. Nothing may panic; every failure must be a
// typed error; Verify must list a row that does not decode (and an index
// entry that disagrees with the anchors); a read of a damaged anchor, or of
// the adjacency of a node when an index entry fails its checksum, must
// fail with ErrCorrupt or ErrVersion; and a write that trips over the
// damage must fail without writing anything.
//
// bucket picks anchors/log/index; a one-byte key picks an existing key of
// that bucket (so the value replaces a real row), any other key is used as
// is.
//
//	go test -run='^$' -fuzz='^FuzzStoredRows$' -fuzztime=10m ./backend/bolt/
func FuzzStoredRows(f *testing.F) {
	fs := buildFuzzStore(f)
	for bi, b := range rawBuckets {
		for i, kv := range fs.rows[b] {
			v := kv[1]
			f.Add(uint8(bi), []byte{byte(i)}, v)                  // the row itself: no damage
			f.Add(uint8(bi), []byte{byte(i)}, v[:len(v)/2])       // truncated
			f.Add(uint8(bi), kv[0], append(bytes.Clone(v), 0x00)) // one byte longer
			flipped := bytes.Clone(v)
			flipped[len(flipped)-1] ^= 0x20
			f.Add(uint8(bi), []byte{byte(i)}, flipped)
		}
	}
	f.Add(uint8(0), fs.nodes[1][:], fs.rows["anchors"][0][1]) // another anchor's record under this key
	f.Add(uint8(0), []byte("short"), []byte("not a record"))
	f.Add(uint8(1), []byte{0, 0, 0, 0, 0, 0, 0, 99}, fs.nodes[1][:]) // log entry ahead of meta
	for _, kv := range fs.rows["index"] {                            // an edge entry moved to another node
		if kv[0][0] == 'e' {
			moved := bytes.Clone(kv[0])
			copy(moved[1:17], fs.nodes[2][:])
			f.Add(uint8(2), moved, kv[1])
		}
	}

	f.Fuzz(func(t *testing.T, bucket uint8, key, val []byte) {
		b := rawBuckets[int(bucket)%len(rawBuckets)]
		rows := fs.rows[b]
		if len(key) <= 1 && len(rows) > 0 {
			i := 0
			if len(key) == 1 {
				i = int(key[0]) % len(rows)
			}
			key = rows[i][0]
		}
		if len(key) == 0 || len(key) > bbolt.MaxKeySize || len(val) > 1<<20 {
			t.Skip("bbolt cannot store this key or value")
		}
		var orig []byte
		for _, kv := range rows {
			if bytes.Equal(kv[0], key) {
				orig = kv[1]
			}
		}

		path := filepath.Join(t.TempDir(), "fuzz.db")
		if err := os.WriteFile(path, fs.file, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte(b)).Put(key, val) }); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}

		s, err := bolt.Open(path, &bolt.Options{NoSync: true})
		if err != nil {
			t.Fatalf("a damaged %s row must not stop the store from opening: %v", b, err)
		}
		defer s.Close()
		ctx := context.Background()
		rep, err := backend.Verify(ctx, s)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		has := func(kind string, id anchor.ID) bool {
			for _, p := range rep.Problems {
				if p.Kind == kind && p.ID == id {
					return true
				}
			}
			return false
		}
		changed := !bytes.Equal(orig, val) || orig == nil

		switch b {
		case "anchors":
			if len(key) != 16 {
				if !has(backend.ProblemCorrupt, anchor.ID{}) {
					t.Fatalf("an anchor under a %d-byte key is not reported: %v", len(key), rep.Problems)
				}
				break
			}
			id := anchor.ID(key)
			_, derr := anchor.Unmarshal(id, val)
			if derr != nil && !has(backend.ProblemCorrupt, id) {
				t.Fatalf("record %s does not decode (%v) but Verify does not list it: %v", id, derr, rep.Problems)
			}
			_, gerr := tiered.New(s, anchor.SystemRoot, nil).Get(ctx, id)
			if derr != nil && !errors.Is(gerr, anchor.ErrCorrupt) && !errors.Is(gerr, anchor.ErrVersion) {
				t.Fatalf("reading damaged anchor %s: got %v, want ErrCorrupt or ErrVersion", id, gerr)
			}
			if derr != nil {
				set := &delta.Batch{Changes: []delta.Change{{ID: id, Set: map[string][]byte{"x": {0x01}}}}}
				backendtest.RequireFailsCleanly(t, s, rep, set, "a field set on the damaged anchor", anchor.ErrCorrupt, anchor.ErrVersion)
			}
		case "log":
			if len(key) == 8 && binary.BigEndian.Uint64(key) > 0 && changed && rep.Clean() {
				t.Fatalf("a changed change-log entry (%x -> %x) is not reported", key, val)
			}
		case "index":
			if changed && rep.Clean() {
				t.Fatalf("a changed secondary-index entry (%x -> %x) is not reported", key, val)
			}
			if _, err := delta.OpenEntry(key, val); err == nil {
				break
			}
			// An entry failing its checksum may have been moved out of its
			// node's range by the damage: no node's edge list may then be
			// given as if whole, and no node delete (whose cascade reads
			// the list) may go ahead.
			for _, node := range fs.nodes {
				err := s.View(ctx, func(v backend.View) error { return v.Adjacent(node, func(anchor.Adj) error { return nil }) })
				if !errors.Is(err, anchor.ErrCorrupt) {
					t.Fatalf("listing the adjacency of %s over a damaged index entry: got %v, want ErrCorrupt", node, err)
				}
				del := &delta.Batch{Changes: []delta.Change{{ID: node, Delete: true}}}
				backendtest.RequireFailsCleanly(t, s, rep, del, "deleting a node while an index entry is damaged", anchor.ErrCorrupt, anchor.ErrVersion)
			}
		}
		if !changed && !rep.Clean() {
			t.Fatalf("the undamaged store is reported: %v", rep.Problems)
		}

		// Whatever the damage: every read and write either works or fails
		// with a typed error, and nothing panics.
		for _, n := range fs.nodes {
			m := tiered.New(s, anchor.SystemRoot, nil)
			if _, err := m.Get(ctx, n); err != nil && !backendtest.Typed(err) {
				t.Fatalf("Get %s: untyped error %v", n, err)
			}
			if _, err := m.Edges(ctx, n); err != nil && !backendtest.Typed(err) {
				t.Fatalf("Edges %s: untyped error %v", n, err)
			}
		}
		m := tiered.New(s, anchor.SystemRoot, nil)
		for _, n := range fs.nodes {
			_ = m.Set(ctx, n, "touched", true)
		}
		if err := m.Commit(ctx); err != nil && !backendtest.Typed(err) {
			t.Fatalf("Commit: untyped error %v", err)
		}
		if err := s.View(ctx, func(v backend.View) error {
			_ = v.Changes(0, func(uint64, anchor.ID) error { return nil })
			return nil
		}); err != nil {
			t.Fatalf("View: %v", err)
		}
	})
}

// TestVerifySeesEveryLogRow pins a fixed bug: View.Changes started its
// cursor at sequence 1 (Seek(u64(after+1))), so a change-log row whose key
// sorts before it (a damaged key such as 0x00, or sequence 0) was never
// read, and Verify called a store holding such a row clean.
func TestVerifySeesEveryLogRow(t *testing.T) {
	for _, key := range [][]byte{{0x00}, make([]byte, 8)} {
		path := filepath.Join(t.TempDir(), "log.db")
		s, err := bolt.Open(path, &bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		root := anchor.NewID()
		err = backendtest.Apply(context.Background(), s, &delta.Batch{Changes: []delta.Change{{ID: root, Create: &anchor.Anchor{ID: root, Kind: anchor.KindNode, Owner: root, Type: "Root"}}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(func(tx *bbolt.Tx) error { return tx.Bucket([]byte("log")).Put(key, []byte("garbage")) }); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		s, err = bolt.Open(path, &bolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := backend.Verify(context.Background(), s)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		if rep.Clean() {
			t.Errorf("a change-log row under key %x holding %q is not reported (Verify read %d log entries)", key, "garbage", rep.LogEntries)
		}
	}
}
