package delta_test

import (
	"errors"
	"sort"
	"strings"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// memTx is an in-memory delta.Tx for unit tests: maps for anchors and
// index entries, a counter clock, and an optional injected write failure.
type memTx struct {
	anchors map[anchor.ID][]byte
	log     map[anchor.ID]uint64
	seq     uint64
	clock   anchor.HLC
	kv      map[string][]byte
	idx     map[string][]byte
	last    delta.Result // of the latest apply
	failPut error        // returned by PutAnchor when set
	writes  int
	bytes   int // written by PutIndex, PutMeta and PutAnchor
}

func newMemTx() *memTx {
	return &memTx{anchors: map[anchor.ID][]byte{}, log: map[anchor.ID]uint64{}, idx: map[string][]byte{}}
}

func (t *memTx) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	var keys []string
	for k := range t.idx {
		if strings.HasPrefix(k, string(prefix)) && k > string(after) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn([]byte(k), t.idx[k]); err != nil {
			return err
		}
	}
	return nil
}

func (t *memTx) PutIndex(k, v []byte) error {
	if _, ok := t.idx[string(k)]; ok {
		return errors.New("memtx: index key put twice")
	}
	t.writes++
	t.bytes += len(k) + len(v)
	t.idx[string(k)] = append([]byte(nil), v...)
	return nil
}

func (t *memTx) DeleteIndex(k []byte) error { t.writes++; delete(t.idx, string(k)); return nil }

// adj returns the store's adjacency rows (delta.Adjacency over the edge
// index), by (node, edge).
func (t *memTx) adj() map[[2]anchor.ID]anchor.Adj {
	rows := map[[2]anchor.ID]anchor.Adj{}
	if err := delta.Adjacency(t, func(r anchor.Adj) error { rows[[2]anchor.ID{r.Node, r.Edge}] = r; return nil }); err != nil {
		panic(err)
	}
	return rows
}

func (t *memTx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	b, ok := t.anchors[id]
	if !ok {
		return nil, &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
	}
	return anchor.Unmarshal(id, b)
}

// apply runs delta.Apply with the next stamp of the Tx's counter clock and
// keeps the result in last.
func (t *memTx) apply(w delta.Write) error {
	t.clock++
	var err error
	t.last, err = delta.Apply(t, delta.Env{Stamp: t.clock}, w)
	return err
}

func (t *memTx) Meta(key string) ([]byte, error) { return t.kv[key], nil }

func (t *memTx) PutMeta(key string, v []byte) error {
	if t.kv == nil {
		t.kv = map[string][]byte{}
	}
	t.bytes += len(key) + len(v)
	t.kv[key] = v
	return nil
}

func (t *memTx) PutAnchor(a *anchor.Anchor) error {
	if t.failPut != nil {
		return t.failPut
	}
	b, err := anchor.Marshal(a)
	if err != nil {
		return err
	}
	t.writes++
	t.bytes += len(b)
	t.anchors[a.ID] = b
	return nil
}

func (t *memTx) Logged(id anchor.ID) error { t.seq++; t.log[id] = t.seq; return nil }

func (t *memTx) get(id anchor.ID) *anchor.Anchor {
	a, err := t.Anchor(id)
	if err != nil {
		panic(err)
	}
	return a
}

var errDisk = errors.New("disk on fire")

func (t *memTx) Lock(anchor.ID) error { return nil }
