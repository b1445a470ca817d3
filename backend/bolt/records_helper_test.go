package bolt_test

import (
	"bytes"
	"encoding/binary"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/anchorage-db/anchorage/anchor"
)

// putRecord stores rec (anchor.Marshal output) as id's record in a store
// of the current schema, in front of it the change-log sequence its stored
// value already names.
func putRecord(tx *bbolt.Tx, id anchor.ID, rec []byte) error {
	b := tx.Bucket([]byte("anchors"))
	old := b.Get(id[:])
	if len(old) < 8 {
		return fmt.Errorf("no stored record of %s to replace", id)
	}
	return b.Put(id[:], append(bytes.Clone(old[:8]), rec...))
}

// unfoldSequences turns tx's store back into the layout of schema 5 and
// before: bare records, and each anchor's sequence in a log-index bucket
// (ID -> sequence). It sets schema 5; callers of older layouts set theirs
// after it.
func unfoldSequences(tx *bbolt.Tx) error {
	anchors := tx.Bucket([]byte("anchors"))
	logidx, err := tx.CreateBucket([]byte("logidx"))
	if err != nil {
		return err
	}
	var keys, vals [][]byte
	if err := anchors.ForEach(func(k, v []byte) error {
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
		return nil
	}); err != nil {
		return err
	}
	for i, k := range keys {
		if err := logidx.Put(k, vals[i][:8]); err != nil {
			return err
		}
		if err := anchors.Put(k, vals[i][8:]); err != nil {
			return err
		}
	}
	return tx.Bucket([]byte("meta")).Put([]byte("schema"), binary.BigEndian.AppendUint32(nil, 5))
}
