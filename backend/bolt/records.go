package bolt

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/anchorage-db/anchorage/anchor"
)

// From schema 6 a value of the anchors bucket is the anchor's change-log
// sequence (8 bytes, big-endian) followed by its record (anchor.Marshal).
// The sequence is what the log index (ID -> sequence) held before: moving
// it into the record saves the index's key, value and bbolt element per
// anchor (about 40 bytes), and a write's lookup and put of it. A store of
// an older schema opened read-only keeps its bare records and log index.
const seqLen = 8

// schemaSeqInRecord is the first schema whose records carry their
// sequence; older stores have a log index, which a read-write open folds
// into the records and drops.
const schemaSeqInRecord = 6

func (t *rtx) seqInRecord() bool { return t.d.info.Schema >= schemaSeqInRecord }

// record returns the anchor record of v, id's value in the anchors bucket.
func (t *rtx) record(id anchor.ID, v []byte) ([]byte, error) {
	if !t.seqInRecord() {
		return v, nil
	}
	if len(v) < seqLen {
		return nil, &anchor.Error{Op: "get", ID: id, Err: fmt.Errorf("%w: a value of %d bytes holds no sequence", anchor.ErrCorrupt, len(v))}
	}
	return v[seqLen:], nil
}

// recordSeq returns the change-log sequence id's stored value names (0
// for none): the record's prefix, or on an older store its log-index
// entry. ok is false when the value or entry is too short to hold one.
func (t *rtx) recordSeq(id anchor.ID, v []byte) (seq uint64, ok bool) {
	if !t.seqInRecord() {
		v = t.open(bLogIdx).Get(id[:])
		if v == nil {
			return 0, true
		}
		if len(v) != seqLen {
			return 0, false
		}
	}
	if len(v) < seqLen {
		return 0, false
	}
	return binary.BigEndian.Uint64(v), true
}

// relog moves id's change-log entry to the next sequence and stores val
// (seqLen bytes to be filled, then the record) under id with it. The
// entry the stored value names, if any, must hold id, or nothing is
// written: a wrong sequence would leave two entries for one anchor.
// Called under write.
func (t *rtx) relog(id anchor.ID, val []byte) error {
	log := t.open(bLog)
	if old := t.open(bAnchors).Get(id[:]); old != nil {
		seq, ok := t.recordSeq(id, old)
		if !ok {
			return &anchor.Error{Op: "log", ID: id, Err: fmt.Errorf("%w: stored value of %d bytes holds no sequence", anchor.ErrCorrupt, len(old))}
		}
		if seq != 0 {
			if got := log.Get(u64(seq)); !bytes.Equal(got, id[:]) {
				return &anchor.Error{Op: "log", ID: id, Err: fmt.Errorf("%w: the record names sequence %d, which holds %x", anchor.ErrCorrupt, seq, got)}
			}
			if err := log.Delete(u64(seq)); err != nil {
				return err
			}
		}
	}
	seq, err := log.NextSequence()
	if err != nil {
		return err
	}
	if err := log.Put(u64(seq), id[:]); err != nil {
		return err
	}
	binary.BigEndian.PutUint64(val, seq)
	return t.open(bAnchors).Put(id[:], val)
}

// foldLogIndex is the upgrade to schema 6, within tx: every record gets
// the sequence its log-index row names in front of it (0, which Verify
// reports, when it has none), and the log-index bucket is dropped. The
// records are rewritten a chunk at a time, each chunk read before it is
// written (bbolt's cursors must not see their bucket change under them).
func foldLogIndex(tx *bbolt.Tx) error {
	anchors, logidx := tx.Bucket(bucketAnchors), tx.Bucket(bucketLogIdx)
	const chunk = 1024
	var keys, vals [][]byte
	var after []byte
	for {
		keys, vals = keys[:0], vals[:0]
		c := anchors.Cursor()
		k, v := c.First()
		if after != nil {
			if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(keys) < chunk; k, v = c.Next() {
			val := make([]byte, seqLen, seqLen+len(v))
			if seq := logidx.Get(k); len(seq) == seqLen {
				copy(val, seq)
			}
			keys = append(keys, bytes.Clone(k))
			vals = append(vals, append(val, v...))
		}
		if len(keys) == 0 {
			break
		}
		for i, k := range keys {
			if err := anchors.Put(k, vals[i]); err != nil {
				return err
			}
		}
		after = keys[len(keys)-1]
	}
	return tx.DeleteBucket(bucketLogIdx)
}
