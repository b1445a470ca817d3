package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// driver is the bbolt backend.Driver. Every call into bbolt runs under
// guard, so a damaged page gives anchor.ErrCorrupt, never a panic.
type driver struct {
	db   *bbolt.DB
	path string
	opts Options
	info backend.Info
	// broken holds the error of a write transaction that panicked inside
	// bbolt; every later Begin fails with it (the store stays readable).
	broken atomic.Pointer[error]
	// indexDamage is the first secondary-index entry the Open page walk
	// found failing its checksum, or nil. A damaged key may have moved an
	// entry out of the range a prefix scan reads (a node's edges, an
	// archetype), where no such scan would meet it, so while it is set
	// every prefix scan of the index is refused with it; a scan of the
	// whole index (Verify's) meets every entry and reports the damaged one.
	indexDamage error
}

var _ backend.Driver = (*driver)(nil)

func (d *driver) Info() backend.Info { return d.info }

// Begin starts a bbolt write transaction. bbolt allows one process per
// file, so there is never a lock conflict to report. After a write
// transaction panicked inside bbolt, Begin refuses with that error: the
// store must be reopened (and checked) before it is written again.
func (d *driver) Begin(context.Context) (backend.Tx, error) {
	if err := d.broken.Load(); err != nil {
		return nil, fmt.Errorf("anchorage: begin %s: writes stopped, reopen the store: %w", d.path, *err)
	}
	var tx *bbolt.Tx
	err := guard("begin", func() (err error) { tx, err = d.db.Begin(true); return err })
	if err != nil {
		return nil, d.classify("begin", err)
	}
	t := &wtx{rtx: newTx(d, tx)}
	if err := guard("begin", func() error { t.rtx.buckets(); return nil }); err != nil {
		t.Rollback()
		return nil, err
	}
	return t, nil
}

// classify turns bbolt's write errors into Anchorage's (see typedIO).
func (d *driver) classify(op string, err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("anchorage: %s: %w", op, anchor.ErrClosed)
	}
	return typedIO(op, d.path, err)
}

// View runs fn in a bbolt read transaction.
func (d *driver) View(_ context.Context, fn func(backend.Snapshot) error) error {
	var tx *bbolt.Tx
	err := guard("view", func() (err error) { tx, err = d.db.Begin(false); return err })
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("view: %w", anchor.ErrClosed)
	}
	if err != nil {
		return err
	}
	defer guard("view", tx.Rollback)
	return fn(&view{rtx: newTx(d, tx)}) // buckets open on first use, under guard
}

// Size returns the file size in bytes.
func (d *driver) Size(context.Context) (int64, error) {
	fi, err := os.Stat(d.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Close closes the file; it blocks until running read transactions end.
func (d *driver) Close() error { return guard("close", d.db.Close) }

// wtx is the backend.Tx over a bbolt write transaction.
type wtx struct{ *rtx }

func (t *wtx) Clock() (h anchor.HLC, err error) {
	err = t.write("read clock", func() error {
		v := t.tx.Bucket(bucketMeta).Get(keyHLC)
		if len(v) != 8 {
			return fmt.Errorf("%w: hlc record is damaged", anchor.ErrCorrupt)
		}
		h = anchor.HLC(binary.BigEndian.Uint64(v))
		return nil
	})
	return h, err
}

func (t *wtx) SetClock(h anchor.HLC) error {
	return t.write("write clock", func() error { return t.tx.Bucket(bucketMeta).Put(keyHLC, u64(uint64(h))) })
}

func (t *wtx) Commit() error {
	return t.d.classify("commit to", t.write("commit", t.tx.Commit))
}

func (t *wtx) Rollback() error {
	err := guard("rollback", t.tx.Rollback)
	if err != nil && !errors.Is(err, berrors.ErrTxClosed) {
		return err
	}
	return nil
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// rtx implements delta.Tx (and the reads of backend.Snapshot) over a
// bbolt transaction.
type rtx struct {
	d        *driver
	tx       *bbolt.Tx
	writable bool
	b        [nBuckets]*bbolt.Bucket // opened on first use (open); nil: absent
	tried    [nBuckets]bool
	edges    [nBuckets]rightEdge // of bAnchors and bLogIdx, in a write transaction (see isNew)
	wrote    map[anchor.ID]uint8 // keys written above edges' tops: bit 1<<bucketID
}

// The store's buckets as an rtx opens them. The index bucket is absent
// from a store of schema < 3 opened read-only, the values bucket from one
// of schema < 4.
type bucketID int

const (
	bAnchors bucketID = iota
	bLog
	bLogIdx
	bIndex
	bValues
	nBuckets
)

var bucketNames = [nBuckets][]byte{bAnchors: bucketAnchors, bLog: bucketLog, bLogIdx: bucketLogIdx, bIndex: bucketIndex, bValues: bucketValues}

// bucketFill is how full a write transaction splits each bucket's pages
// (bbolt's FillPercent; 0 keeps its default, 50%, made for random keys).
//   - anchors, log, logidx: time-ordered IDs and sequence numbers arrive in
//     key order, at the right edge of these trees, so split pages are
//     filled instead of left half empty.
//   - index: keys start with a node's ID or a name; a hub's edges arrive
//     at the end of its range, edges between old nodes at thousands of
//     places. Measured (BenchmarkBytesPerEdge), 80% makes a hub row cost
//     850 bytes instead of 1,100 at 50%, and random edges no more (674 at
//     2*10^5 edges, 634 instead of 722 at 4*10^5); at 85% and above the
//     random shape's pages split again at once and it grows.
var bucketFill = [nBuckets]float64{bAnchors: 1.0, bLog: 1.0, bLogIdx: 1.0, bIndex: 0.8}

func newTx(d *driver, tx *bbolt.Tx) *rtx { return &rtx{d: d, tx: tx, writable: tx.Writable()} }

// open returns bucket i, opening it the first time: a View that reads one
// anchor opens one bucket (each open costs bbolt a few allocations), not
// five. It reads the root page: call it under guard.
func (t *rtx) open(i bucketID) *bbolt.Bucket {
	if !t.tried[i] {
		t.b[i], t.tried[i] = t.tx.Bucket(bucketNames[i]), true
		if t.b[i] != nil && t.writable && bucketFill[i] > 0 {
			t.b[i].FillPercent = bucketFill[i]
		}
	}
	return t.b[i]
}

// buckets opens every bucket of a write transaction at its start (it reads
// the root page: run it under guard).
func (t *rtx) buckets() {
	for i := range nBuckets {
		t.open(i)
	}
}

// write runs fn, one bbolt call of this transaction, under guard. A panic
// in a write transaction stops every later write of the driver: bbolt's
// in-memory state may be half-changed, so nothing more is committed from
// it (the transaction is rolled back by the engine; nothing landed).
func (t *rtx) write(op string, fn func() error) error {
	err := guard(op, fn)
	if err == nil || !t.writable {
		return err
	}
	if _, panicked := err.(*panicError); panicked { // guard returns it as it is (errors.As would cost an allocation on every failed read, "not found" included)
		broken := err // its own variable: &err would move err to the heap on every call
		t.d.broken.CompareAndSwap(nil, &broken)
	}
	return err
}

// Anchor reads id's record. Field values kept out of line are not read:
// they come as references (anchor.Field.Ref; see values.go).
func (t *rtx) Anchor(id anchor.ID) (a *anchor.Anchor, err error) {
	err = t.write("get", func() error {
		if t.isNew(id) {
			return &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
		}
		v := t.open(bAnchors).Get(id[:])
		if v == nil {
			if seq := t.open(bLogIdx).Get(id[:]); seq != nil {
				return &anchor.Error{Op: "get", ID: id, Err: fmt.Errorf("%w: no record, but the log index holds it at %x", anchor.ErrCorrupt, seq)}
			}
			return &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
		}
		a, err = anchor.Unmarshal(id, v)
		return err
	})
	return a, err
}

// scan calls fn for each row of b from start (nil: the first row) while
// the key has prefix. The cursor steps run under guard; fn does not.
func (t *rtx) scan(op string, which bucketID, start, prefix []byte, fn func(k, v []byte) error) error {
	var c *bbolt.Cursor
	var k, v []byte
	err := t.write(op, func() error {
		b := t.open(which)
		if b == nil {
			return nil // an absent bucket holds no rows
		}
		c = b.Cursor()
		if start == nil {
			k, v = c.First()
		} else {
			k, v = c.Seek(start)
		}
		return nil
	})
	next := func() error { k, v = c.Next(); return nil } // one closure for the whole scan
	for err == nil && k != nil && bytes.HasPrefix(k, prefix) {
		if err = fn(k, v); err != nil {
			return err
		}
		err = t.write(op, next)
	}
	return err
}

func (t *rtx) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	if t.d.indexDamage != nil && len(prefix) > 0 {
		return fmt.Errorf("index scan of %x: the index cannot be trusted, run Verify: %w", prefix, t.d.indexDamage)
	}
	start := prefix
	if bytes.Compare(after, prefix) >= 0 {
		start = append(bytes.Clone(after), 0) // the first key after after
	}
	return t.scan("index", bIndex, start, prefix, fn)
}

func (t *rtx) PutIndex(k, v []byte) error {
	return t.write("put index", func() error { return t.open(bIndex).Put(k, v) })
}

func (t *rtx) DeleteIndex(k []byte) error {
	return t.write("delete index", func() error { return t.open(bIndex).Delete(k) })
}

// PutAnchor writes a's record, its field values of anchor.OutOfLine bytes
// or more to the values bucket, and removes the values a no longer keeps
// out of line. A field given as a reference keeps its stored value.
func (t *rtx) PutAnchor(a *anchor.Anchor) error {
	head, values := anchor.SplitOutOfLine(a)
	b, err := anchor.Marshal(head)
	if err != nil {
		return err
	}
	return t.write("put", func() error {
		if err := t.putValues(head, values); err != nil {
			return err
		}
		if err := t.open(bAnchors).Put(a.ID[:], b); err != nil {
			return err
		}
		t.note(bAnchors, a.ID)
		return nil
	})
}

// unlog removes id's change-log entry, if it has one. Call it under guard.
func (t *rtx) unlog(id anchor.ID) error {
	if t.above(bLogIdx, id) {
		return nil // no entry (see isNew)
	}
	old := t.open(bLogIdx).Get(id[:])
	if old == nil {
		return nil
	}
	if got := t.open(bLog).Get(old); !bytes.Equal(got, id[:]) {
		return &anchor.Error{Op: "log", ID: id, Err: fmt.Errorf("%w: log index names sequence %x, which holds %x", anchor.ErrCorrupt, old, got)}
	}
	return t.open(bLog).Delete(old)
}

// Logged moves id's change-log entry to a new sequence. It refuses (with
// anchor.ErrCorrupt) when the log index names a sequence that does not
// hold id: writing on would leave two log entries for one anchor.
func (t *rtx) Logged(id anchor.ID) error {
	return t.write("log", func() error {
		if err := t.unlog(id); err != nil {
			return err
		}
		seq, err := t.open(bLog).NextSequence()
		if err != nil {
			return err
		}
		if err := t.open(bLog).Put(u64(seq), id[:]); err != nil {
			return err
		}
		if err := t.open(bLogIdx).Put(id[:], u64(seq)); err != nil {
			return err
		}
		t.note(bLogIdx, id)
		return nil
	})
}

func (t *rtx) Meta(key string) (v []byte, err error) {
	err = t.write("read meta", func() error {
		v = bytes.Clone(t.tx.Bucket(bucketMeta).Get([]byte(metaPrefix + key)))
		return nil
	})
	return v, err
}

func (t *rtx) PutMeta(key string, value []byte) error {
	return t.write("write meta", func() error { return t.tx.Bucket(bucketMeta).Put([]byte(metaPrefix+key), value) })
}

// Prefetch does nothing: bolt's reads are local and cheap.
func (t *wtx) Prefetch([]anchor.ID) error { return nil }

// Lock does nothing: bolt runs one write transaction at a time.
func (t *rtx) Lock(anchor.ID) error { return nil }
