package bolt

import (
	"encoding/binary"
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
)

// Purge removes each record of ids with its change-log entry and log-index
// entry (see backend.Tx), and returns the greatest sequence it removed.
func (t *wtx) Purge(ids []anchor.ID) (maxSeq uint64, err error) {
	err = t.write("purge", func() error {
		for _, id := range ids {
			if t.open(bAnchors).Get(id[:]) == nil {
				continue
			}
			if err := t.open(bAnchors).Delete(id[:]); err != nil {
				return err
			}
			if err := t.dropValues(id, nil); err != nil {
				return err
			}
			seq := t.open(bLogIdx).Get(id[:])
			if seq == nil {
				continue
			}
			if len(seq) != 8 {
				return &anchor.Error{Op: "purge", ID: id, Err: fmt.Errorf("%w: log index entry of %d bytes", anchor.ErrCorrupt, len(seq))}
			}
			n := binary.BigEndian.Uint64(seq)
			if err := t.open(bLog).Delete(u64(n)); err != nil {
				return err
			}
			if err := t.open(bLogIdx).Delete(id[:]); err != nil {
				return err
			}
			maxSeq = max(maxSeq, n)
		}
		return nil
	})
	return maxSeq, err
}
