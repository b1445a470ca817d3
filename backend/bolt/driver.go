package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"syscall"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// driver is the bbolt backend.Driver.
type driver struct {
	db   *bbolt.DB
	path string
	opts Options
	info backend.Info
}

var _ backend.Driver = (*driver)(nil)

func (d *driver) Info() backend.Info { return d.info }

// Begin starts a bbolt write transaction. bbolt allows one process per
// file, so there is never a lock conflict to report.
func (d *driver) Begin(context.Context) (backend.Tx, error) {
	tx, err := d.db.Begin(true)
	if err != nil {
		return nil, d.classify("begin", err)
	}
	return &wtx{rtx: newTx(d, tx)}, nil
}

// classify turns bbolt's write errors into Anchorage's.
func (d *driver) classify(op string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrMaxSizeReached), errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("anchorage: %s %s: %w: %w", op, d.path, anchor.ErrFull, err)
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("anchorage: %s: %w", op, anchor.ErrClosed)
	}
	return err
}

// View runs fn in a bbolt read transaction.
func (d *driver) View(_ context.Context, fn func(backend.View) error) error {
	err := d.db.View(func(tx *bbolt.Tx) error { return fn(&view{rtx: newTx(d, tx)}) })
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("view: %w", anchor.ErrClosed)
	}
	return err
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
func (d *driver) Close() error { return d.db.Close() }

// wtx is the backend.Tx over a bbolt write transaction.
type wtx struct{ *rtx }

func (t *wtx) Clock() (anchor.HLC, error) {
	h := t.tx.Bucket(bucketMeta).Get(keyHLC)
	if len(h) != 8 {
		return 0, fmt.Errorf("%w: hlc record is damaged", anchor.ErrCorrupt)
	}
	return anchor.HLC(binary.BigEndian.Uint64(h)), nil
}

func (t *wtx) SetClock(h anchor.HLC) error {
	return t.tx.Bucket(bucketMeta).Put(keyHLC, u64(uint64(h)))
}

func (t *wtx) Commit() error { return t.d.classify("commit to", t.tx.Commit()) }

func (t *wtx) Rollback() error {
	if err := t.tx.Rollback(); err != nil && !errors.Is(err, berrors.ErrTxClosed) {
		return err
	}
	return nil
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

// rtx implements delta.Tx (and the reads of backend.View) over a bbolt
// transaction.
type rtx struct {
	d                         *driver
	tx                        *bbolt.Tx
	anchors, adj, log, logIdx *bbolt.Bucket
}

func newTx(d *driver, tx *bbolt.Tx) *rtx {
	return &rtx{d: d, tx: tx, anchors: tx.Bucket(bucketAnchors), adj: tx.Bucket(bucketAdj),
		log: tx.Bucket(bucketLog), logIdx: tx.Bucket(bucketLogIdx)}
}

func (t *rtx) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	v := t.anchors.Get(id[:])
	if v == nil {
		return nil, &anchor.Error{Op: "get", ID: id, Err: anchor.ErrNotFound}
	}
	return anchor.Unmarshal(id, v)
}

func (t *rtx) Adjacent(node anchor.ID, fn func(anchor.Adj) error) error {
	c := t.adj.Cursor()
	for k, v := c.Seek(node[:]); k != nil && bytes.HasPrefix(k, node[:]); k, v = c.Next() {
		a, err := decodeAdj(k, v)
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
	}
	return nil
}

func (t *rtx) PutAnchor(a *anchor.Anchor) error {
	b, err := anchor.Marshal(a)
	if err != nil {
		return err
	}
	return t.anchors.Put(a.ID[:], b)
}

func (t *rtx) PutAdj(r anchor.Adj) error {
	v := make([]byte, 0, 17+len(r.Type))
	v = append(v, r.Peer[:]...)
	v = append(v, byte(r.Dir))
	v = append(v, r.Type...)
	return t.adj.Put(adjKey(r.Node, r.Edge), v)
}

func (t *rtx) DeleteAdj(node, edge anchor.ID) error { return t.adj.Delete(adjKey(node, edge)) }

func (t *rtx) Logged(id anchor.ID) error {
	if old := t.logIdx.Get(id[:]); old != nil {
		if err := t.log.Delete(old); err != nil {
			return err
		}
	}
	seq, err := t.log.NextSequence()
	if err != nil {
		return err
	}
	if err := t.log.Put(u64(seq), id[:]); err != nil {
		return err
	}
	return t.logIdx.Put(id[:], u64(seq))
}

func (t *rtx) Meta(key string) ([]byte, error) {
	return bytes.Clone(t.tx.Bucket(bucketMeta).Get([]byte(metaPrefix + key))), nil
}

func (t *rtx) PutMeta(key string, value []byte) error {
	return t.tx.Bucket(bucketMeta).Put([]byte(metaPrefix+key), value)
}

func adjKey(node, edge anchor.ID) []byte {
	k := make([]byte, 32)
	copy(k, node[:])
	copy(k[16:], edge[:])
	return k
}

func decodeAdj(k, v []byte) (anchor.Adj, error) {
	var a anchor.Adj
	if len(k) != 32 || len(v) < 17 {
		return a, fmt.Errorf("%w: adjacency row of key %d and value %d bytes", anchor.ErrCorrupt, len(k), len(v))
	}
	copy(a.Node[:], k[:16])
	copy(a.Edge[:], k[16:])
	copy(a.Peer[:], v[:16])
	a.Dir = anchor.Direction(v[16])
	a.Type = string(v[17:])
	if a.Dir < anchor.Out || a.Dir > anchor.Both {
		return a, fmt.Errorf("%w: adjacency row %s/%s has direction %d", anchor.ErrCorrupt, a.Node, a.Edge, v[16])
	}
	return a, nil
}

// view adds the whole-store scans of backend.View.
type view struct{ rtx *rtx }

func (v *view) Anchor(id anchor.ID) (*anchor.Anchor, error) { return v.rtx.Anchor(id) }
func (v *view) Adjacent(node anchor.ID, fn func(anchor.Adj) error) error {
	return v.rtx.Adjacent(node, fn)
}

func (v *view) Anchors(fn func(anchor.ID, *anchor.Anchor, error) error) error {
	return v.rtx.anchors.ForEach(func(k, val []byte) error {
		id, err := anchor.IDFromBytes(k)
		if err != nil {
			return fn(id, nil, fmt.Errorf("%w: anchor key of %d bytes", anchor.ErrCorrupt, len(k)))
		}
		a, err := anchor.Unmarshal(id, val)
		return fn(id, a, err)
	})
}

func (v *view) Adjacency(fn func(anchor.Adj) error) error {
	return v.rtx.adj.ForEach(func(k, val []byte) error {
		a, err := decodeAdj(k, val)
		if err != nil {
			return err
		}
		return fn(a)
	})
}

func (v *view) Changes(after uint64, fn func(uint64, anchor.ID) error) error {
	c := v.rtx.log.Cursor()
	k, val := c.First() // from the very first row, so Verify sees malformed keys too
	if after > 0 {
		k, val = c.Seek(u64(after + 1))
	}
	for ; k != nil; k, val = c.Next() {
		id, err := anchor.IDFromBytes(val)
		if err != nil || len(k) != 8 || binary.BigEndian.Uint64(k) == 0 {
			return fmt.Errorf("%w: change-log entry %x", anchor.ErrCorrupt, k)
		}
		if err := fn(binary.BigEndian.Uint64(k), id); err != nil {
			return err
		}
	}
	return nil
}

func (v *view) MetaValue(key string) ([]byte, error) { return v.rtx.Meta(key) }

func (v *view) Meta() backend.Meta {
	i := v.rtx.d.info
	m := backend.Meta{Schema: i.Schema, StoreID: i.StoreID, ReplicaID: i.ReplicaID}
	m.Seq = v.rtx.log.Sequence()
	if h := v.rtx.tx.Bucket(bucketMeta).Get(keyHLC); len(h) == 8 {
		m.HLC = anchor.HLC(binary.BigEndian.Uint64(h))
	}
	return m
}
