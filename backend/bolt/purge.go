package bolt

import (
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
)

// Purge removes each record of ids with its change-log entry (see
// backend.Tx), and returns the greatest sequence it removed.
func (t *wtx) Purge(ids []anchor.ID) (maxSeq uint64, err error) {
	err = t.write("purge", func() error {
		for _, id := range ids {
			v := t.open(bAnchors).Get(id[:])
			if v == nil {
				continue
			}
			n, ok := t.recordSeq(id, v)
			if !ok {
				return &anchor.Error{Op: "purge", ID: id, Err: fmt.Errorf("%w: stored value of %d bytes holds no sequence", anchor.ErrCorrupt, len(v))}
			}
			if err := t.open(bAnchors).Delete(id[:]); err != nil {
				return err
			}
			if err := t.dropValues(id, nil); err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			if err := t.open(bLog).Delete(u64(n)); err != nil {
				return err
			}
			maxSeq = max(maxSeq, n)
		}
		return nil
	})
	return maxSeq, err
}
