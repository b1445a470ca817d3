package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// view adds the whole-store scans of backend.Snapshot, and the bolt-only
// index check Verify finds through backend.StorageChecker.
type view struct{ rtx *rtx }

var (
	_ backend.Snapshot       = (*view)(nil)
	_ backend.StorageChecker = (*view)(nil)
)

// Anchor reads id with every field value (see loadValues).
func (v *view) Anchor(id anchor.ID) (*anchor.Anchor, error) {
	a, err := v.rtx.Anchor(id)
	if err != nil {
		return nil, err
	}
	return v.rtx.loadValues(a)
}
func (v *view) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	return v.rtx.Index(prefix, after, fn)
}

func (v *view) Anchors(fn func(anchor.ID, *anchor.Anchor, error) error) error {
	return v.rtx.scan("scan anchors", bAnchors, nil, nil, func(k, val []byte) error {
		id, err := anchor.IDFromBytes(k)
		if err != nil {
			return fn(id, nil, fmt.Errorf("%w: anchor key of %d bytes", anchor.ErrCorrupt, len(k)))
		}
		a, err := anchor.Unmarshal(id, val)
		if err == nil {
			a, err = v.rtx.loadValues(a)
		}
		return fn(id, a, err)
	})
}

// Changes lists the change log from after+1. Each entry is checked against
// the log index (which must name the same sequence for the same anchor),
// so a damaged sequence or ID in either gives anchor.ErrCorrupt rather
// than a wrong entry.
func (v *view) Changes(after uint64, fn func(uint64, anchor.ID) error) error {
	var start []byte // from the very first row, so Verify sees malformed keys too
	if after > 0 {
		start = u64(after + 1)
	}
	return v.rtx.scan("scan change log", bLog, start, nil, func(k, val []byte) error {
		id, err := anchor.IDFromBytes(val)
		if err != nil || len(k) != 8 || binary.BigEndian.Uint64(k) == 0 {
			return fmt.Errorf("%w: change-log entry %x", anchor.ErrCorrupt, k)
		}
		var idx []byte
		if err := v.rtx.write("scan change log", func() error { idx = v.rtx.open(bLogIdx).Get(id[:]); return nil }); err != nil {
			return err
		}
		if !bytes.Equal(idx, k) {
			return &anchor.Error{Op: "changes", ID: id, Err: fmt.Errorf("%w: change-log entry %x, but the log index holds %x", anchor.ErrCorrupt, k, idx)}
		}
		return fn(binary.BigEndian.Uint64(k), id)
	})
}

// CheckStorage reports every log-index row (ID -> sequence) whose sequence
// does not hold that ID in the change log, and every row that does not
// decode. (Log entries missing from the index are found by Changes.)
func (v *view) CheckStorage(report func(kind string, id anchor.ID, detail string)) error {
	if err := v.rtx.checkValues(report); err != nil {
		return err
	}
	return v.rtx.scan("scan log index", bLogIdx, nil, nil, func(k, seq []byte) error {
		id, err := anchor.IDFromBytes(k)
		if err != nil || len(seq) != 8 {
			report(backend.ProblemCorrupt, id, fmt.Sprintf("log-index row %x -> %x does not decode", k, seq))
			return nil
		}
		var got []byte
		if err := v.rtx.write("scan log index", func() error { got = bytes.Clone(v.rtx.open(bLog).Get(seq)); return nil }); err != nil {
			return err
		}
		if !bytes.Equal(got, k) {
			report(backend.ProblemIndexMismatch, id, fmt.Sprintf("log index names sequence %d, which holds %x", binary.BigEndian.Uint64(seq), got))
		}
		return nil
	})
}

func (v *view) MetaValue(key string) ([]byte, error) { return v.rtx.Meta(key) }

// Meta describes the store. A damaged page met reading the clock leaves
// HLC and Seq zero (Verify then reports the log ahead of the store).
func (v *view) Meta() backend.Meta {
	i := v.rtx.d.info
	m := backend.Meta{Schema: i.Schema, StoreID: i.StoreID, ReplicaID: i.ReplicaID}
	_ = v.rtx.write("read meta", func() error {
		m.Seq = v.rtx.open(bLog).Sequence()
		if h := v.rtx.tx.Bucket(bucketMeta).Get(keyHLC); len(h) == 8 {
			m.HLC = anchor.HLC(binary.BigEndian.Uint64(h))
		}
		return nil
	})
	return m
}
