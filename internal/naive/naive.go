// Package naive is a deliberately broken persistence strategy, kept only as
// the control that proves Anchorage's tests and demo can detect lost writes.
//
// It reproduces the original bug: every node is one whole document (fields
// and edge list together), each walker caches the documents it loaded, and
// every write stores the walker's whole cached document
// (`INSERT OR REPLACE id, blob`), so the last writer erases the edges and
// fields everyone else added since it loaded. Never use it to store data.
//
// # Concurrency
//
// Store is safe for concurrent use. A Walker belongs to one goroutine.
package naive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/vmihailenco/msgpack/v5"
	bbolt "go.etcd.io/bbolt"

	"github.com/anchorage-db/anchorage/anchor"
)

// Doc is a whole node document as the broken runtime stored it.
type Doc struct {
	Fields map[string]any `msgpack:"f"`
	Edges  []anchor.ID    `msgpack:"e"` // the node's edge list: the root of the bug
	// Deleted marks a document its walker deleted. Like everything else
	// in the document, the next whole write from a stale copy undoes it.
	Deleted bool `msgpack:"d,omitempty"`
}

// Store keeps whole documents, in a bbolt file when opened with a path,
// in one file per document when opened with OpenDir, else in memory.
type Store struct {
	db  *bbolt.DB
	dir string
	mu  sync.Mutex
	mem map[anchor.ID][]byte
}

var bucket = []byte("docs")

// Open returns a naive store in the bbolt file at path, or in memory if path
// is empty. noSync skips fsync, as anchorage's bolt.Options.NoSync does.
func Open(path string, noSync bool) (*Store, error) {
	if path == "" {
		return &Store{mem: make(map[anchor.ID][]byte)}, nil
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: noSync})
	if err != nil {
		return nil, fmt.Errorf("naive: %w", err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucketIfNotExists(bucket); return err }); err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db}, nil
}

// OpenDir returns a naive store that keeps each document in its own file in
// dir (created if needed), so several processes can share it, as the
// broken runtime's worker processes shared one database. Every write
// replaces the whole file (a temporary file renamed over it): each write is
// atomic, and the last one wins, whole.
func OpenDir(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("naive: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Close closes the file, if any. Idempotent.
func (s *Store) Close() error {
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	s.db = nil
	return err
}

func (s *Store) load(id anchor.ID) (*Doc, error) {
	var raw []byte
	switch {
	case s.dir != "":
		var err error
		raw, err = os.ReadFile(filepath.Join(s.dir, id.String()))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	case s.db == nil:
		s.mu.Lock()
		raw = s.mem[id]
		s.mu.Unlock()
	default:
		if err := s.db.View(func(tx *bbolt.Tx) error {
			raw = append([]byte(nil), tx.Bucket(bucket).Get(id[:])...)
			return nil
		}); err != nil {
			return nil, err
		}
	}
	d := &Doc{Fields: map[string]any{}}
	if len(raw) > 0 {
		if err := msgpack.Unmarshal(raw, d); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// store writes the whole document: INSERT OR REPLACE id, blob.
func (s *Store) store(id anchor.ID, d *Doc) error {
	raw, err := msgpack.Marshal(d)
	if err != nil {
		return err
	}
	switch {
	case s.dir != "":
		return replaceFile(filepath.Join(s.dir, id.String()), raw)
	case s.db == nil:
		s.mu.Lock()
		s.mem[id] = raw
		s.mu.Unlock()
		return nil
	}
	return s.db.Update(func(tx *bbolt.Tx) error { return tx.Bucket(bucket).Put(id[:], raw) })
}

// replaceFile writes b to a temporary file in path's directory and renames
// it over path.
func replaceFile(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// Edges returns the stored edge count of node.
func (s *Store) Edges(id anchor.ID) (int, error) {
	d, err := s.load(id)
	if err != nil {
		return 0, err
	}
	return len(d.Edges), nil
}

// Doc returns the stored document of id.
func (s *Store) Doc(id anchor.ID) (*Doc, error) { return s.load(id) }

// Walker is one request's cache of whole documents, like the broken
// runtime's per-request L1. It belongs to one goroutine.
type Walker struct {
	s     *Store
	cache map[anchor.ID]*Doc
	dirty map[anchor.ID]bool
}

// NewWalker returns a walker with an empty cache.
func (s *Store) NewWalker() *Walker {
	return &Walker{s: s, cache: map[anchor.ID]*Doc{}, dirty: map[anchor.ID]bool{}}
}

// Load reads id into the cache, once; later calls return the cached (and
// possibly stale) copy, as the broken runtime did.
func (w *Walker) Load(id anchor.ID) (*Doc, error) {
	if d, ok := w.cache[id]; ok {
		return d, nil
	}
	d, err := w.s.load(id)
	if err != nil {
		return nil, err
	}
	w.cache[id] = d
	return d, nil
}

// Connect appends an edge to both endpoints' cached edge lists.
func (w *Walker) Connect(src, dst anchor.ID) (anchor.ID, error) {
	edge := anchor.NewID()
	for _, id := range []anchor.ID{src, dst} {
		d, err := w.Load(id)
		if err != nil {
			return edge, err
		}
		d.Edges = append(d.Edges, edge)
		w.dirty[id] = true
	}
	return edge, nil
}

// Set sets a field on the cached document.
func (w *Walker) Set(id anchor.ID, field string, v any) error {
	d, err := w.Load(id)
	if err != nil {
		return err
	}
	d.Fields[field] = v
	w.dirty[id] = true
	return nil
}

// Touch marks a document dirty without changing it (a walker that "saves"
// what it read, as the runtime's commit of every loaded anchor did).
func (w *Walker) Touch(id anchor.ID) error {
	if _, err := w.Load(id); err != nil {
		return err
	}
	w.dirty[id] = true
	return nil
}

// Delete marks the cached document deleted and empties its edge list; the
// next Put or Commit writes it whole. Other walkers' cached copies still
// hold the live document, and their next write of it resurrects it, with
// whatever edges they added.
func (w *Walker) Delete(id anchor.ID) error {
	d, err := w.Load(id)
	if err != nil {
		return err
	}
	d.Deleted = true
	d.Edges = nil
	w.dirty[id] = true
	return nil
}

// Put writes one cached document whole, now: the broken cascade-save path.
func (w *Walker) Put(id anchor.ID) error {
	d, err := w.Load(id)
	if err != nil {
		return err
	}
	delete(w.dirty, id)
	return w.s.store(id, d)
}

// Commit writes every dirty cached document whole.
func (w *Walker) Commit() error {
	for id := range w.dirty {
		if err := w.s.store(id, w.cache[id]); err != nil {
			return err
		}
	}
	clear(w.dirty)
	return nil
}
