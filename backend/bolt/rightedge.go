package bolt

import (
	"bytes"

	"github.com/anchorage-db/anchorage/anchor"
)

// A write transaction proves a new anchor's ID new without searching the
// anchors and log-index trees for it. IDs are time-ordered, so the ID of
// an anchor a walker has just created is almost always above every key
// the two trees held when the transaction began (IDs made within one
// millisecond are in random order among themselves, but rarely share it
// with a group committed earlier). A write transaction finds each tree's
// largest key once, on first use (one descent to its rightmost leaf, the
// leaf a search for a new ID would reach anyway), and notes each key it
// writes above it. An ID above both trees' first largest keys and not
// noted is in neither tree: reading it answers anchor.ErrNotFound as the
// two searches would have (a record's miss, then the log index's, which
// tells a lost record from one never written), and moving its change-log
// entry skips looking up an old one. Any other ID is searched for as
// before; a delete needs no note (the key it removes is searched for).

// rightEdge is one tree's largest key as a write transaction first found
// it.
type rightEdge struct {
	known  bool      // looked up in this transaction
	usable bool      // the largest key has an ID's length, or the tree was empty
	top    anchor.ID // the largest key; zero for an empty tree
}

// above reports whether id is in neither tree i (bAnchors or bLogIdx) nor
// among the keys this transaction wrote to it above its first largest
// key; always false in a read-only transaction. It reads the tree's
// rightmost leaf the first time: call it under guard.
func (t *rtx) above(i bucketID, id anchor.ID) bool {
	if !t.writable {
		return false
	}
	e := &t.edges[i]
	if !e.known {
		e.known = true
		k, _ := t.open(i).Cursor().Last()
		e.usable = k == nil || len(k) == len(e.top)
		copy(e.top[:], k)
	}
	return e.usable && bytes.Compare(id[:], e.top[:]) > 0 && t.wrote[id]&(1<<i) == 0
}

// note records that tree i now holds id (after a Put of it).
func (t *rtx) note(i bucketID, id anchor.ID) {
	if e := &t.edges[i]; e.known && bytes.Compare(id[:], e.top[:]) > 0 {
		if t.wrote == nil {
			t.wrote = make(map[anchor.ID]uint8)
		}
		t.wrote[id] |= 1 << i
	}
}

// isNew reports whether a write transaction can tell without searching
// that id is in neither the anchors tree nor the log index. Call it under
// guard.
func (t *rtx) isNew(id anchor.ID) bool {
	return t.above(bAnchors, id) && t.above(bLogIdx, id)
}
