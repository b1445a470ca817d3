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
// writes above it (up to maxNoted; then the bound rises to cover them).
// An ID above both trees' bounds and not noted is in neither tree:
// reading it answers anchor.ErrNotFound as the two searches would have (a
// record's miss, then the log index's, which tells a lost record from one
// never written), and moving its change-log entry skips looking up an old
// one. Any other ID is searched for as before; a delete needs no note (the
// key it removes is searched for).

// rightEdge is one tree's bound in a write transaction: at least its
// largest key, apart from the keys noted in rtx.wrote.
type rightEdge struct {
	known  bool      // looked up in this transaction
	usable bool      // the largest key first found has an ID's length, or the tree was empty
	top    anchor.ID // the bound; zero for an empty tree
}

// above reports whether id is above tree i's bound (bAnchors or bLogIdx)
// and not noted as written to it, so not in it; always false in a
// read-only transaction. It reads the tree's rightmost leaf the first
// time: call it under guard.
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

// maxNoted bounds the keys a transaction notes: a batch of a million new
// anchors would otherwise hold a note for each. Past it the notes are
// folded into the bounds (fold), which then cover every key written so
// far, and later reads of IDs below them search as before.
const maxNoted = 4096

// note records that tree i now holds id (after a Put of it).
func (t *rtx) note(i bucketID, id anchor.ID) {
	if e := &t.edges[i]; e.known && bytes.Compare(id[:], e.top[:]) > 0 {
		if t.wrote == nil {
			t.wrote = make(map[anchor.ID]uint8)
		}
		if _, ok := t.wrote[id]; !ok && len(t.wrote) >= maxNoted {
			t.fold()
		}
		t.wrote[id] |= 1 << i
	}
}

// fold raises each tree's bound to the largest key noted for it and
// forgets the notes: the bounds stay upper bounds of the trees' keys.
func (t *rtx) fold() {
	for id, trees := range t.wrote {
		for i := range t.edges {
			if trees&(1<<i) != 0 && bytes.Compare(id[:], t.edges[i].top[:]) > 0 {
				t.edges[i].top = id
			}
		}
	}
	clear(t.wrote)
}

// isNew reports whether a write transaction can tell without searching
// that id is in neither the anchors tree nor the log index. Call it under
// guard.
func (t *rtx) isNew(id anchor.ID) bool {
	return t.above(bAnchors, id) && t.above(bLogIdx, id)
}
