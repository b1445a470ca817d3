package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/anchorage-db/anchorage/anchor"
)

// Purge removes each record of ids with its change-log row (see
// backend.Tx), in one round trip together with the writes queued before
// it, after taking each anchor's exclusive lock (without waiting: a held
// anchor fails the transaction with backend.ErrRetry). It returns the
// greatest sequence it removed.
func (w *wtx) Purge(ids []anchor.ID) (uint64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	b := w.take()
	raw := make([][]byte, len(ids))
	for i, id := range ids {
		w.exclusive(b, id)
		h := w.held[id]
		h.rec, h.read = nil, true
		raw[i] = id[:]
	}
	var seq int64
	b.Queue(`WITH a AS (DELETE FROM `+w.s.t.anchors+` WHERE id = ANY($1::bytea[])),
		v AS (DELETE FROM `+w.s.t.vals+` WHERE id = ANY($1::bytea[])),
		l AS (DELETE FROM `+w.s.t.log+` WHERE id = ANY($1::bytea[]) RETURNING seq)
		SELECT coalesce(max(seq), 0) FROM l`, raw).QueryRow(func(r pgx.Row) error { return r.Scan(&seq) })
	if err := w.send(b); err != nil {
		return 0, err
	}
	return uint64(seq), nil
}
