package sqlite

import (
	"database/sql"
	"errors"

	"github.com/anchorage-db/anchorage/anchor"
)

// Purge removes each record of ids (its anchors row and field rows) with
// its change-log row (see backend.Tx), and returns the greatest sequence
// it removed. The stored sequence (meta "seq") is left as it is.
func (t *wtx) Purge(ids []anchor.ID) (uint64, error) {
	if t.err != nil {
		return 0, t.err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	var stmts [4]*sql.Stmt
	for i, q := range []string{"DELETE FROM fields WHERE id = ?", "DELETE FROM anchors WHERE id = ?", sqlDelVals, "DELETE FROM log WHERE id = ? RETURNING seq"} {
		st, err := t.w.conn.PrepareContext(t.ctx, q)
		if err != nil {
			return 0, t.fail(err)
		}
		defer st.Close()
		stmts[i] = st
	}
	var maxSeq uint64
	for _, id := range ids {
		for _, st := range stmts[:3] {
			if _, err := st.ExecContext(t.ctx, id[:]); err != nil {
				return 0, t.fail(err)
			}
		}
		var seq int64
		err := stmts[3].QueryRowContext(t.ctx, id[:]).Scan(&seq)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return 0, t.fail(err)
		default:
			maxSeq = max(maxSeq, uint64(seq))
		}
		t.seen[id] = nil
		delete(t.sums, id)
		t.wrote = true
	}
	return maxSeq, nil
}
