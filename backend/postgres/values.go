package postgres

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/backend"
)

// Field values of anchor.OutOfLine bytes or more live in the vals table
// (layout 3), one row per (anchor, field); the anchor's record holds a
// reference (size, CRC-32C, stamp, origin) in their place. A write
// transaction reads records only, so a Set of another field or a Connect
// to the node neither moves nor rewrites a large value; a View reads and
// checks every value.

func (t tables) createVals() string {
	return `CREATE TABLE IF NOT EXISTS ` + t.vals + ` (id bytea NOT NULL, name text NOT NULL, value bytea NOT NULL,
		PRIMARY KEY (id, name))`
}

// marshal returns a's record (large values replaced by references) and the
// values to store out of line. It must run before PutAnchor updates what
// the transaction holds of a.
func (w *wtx) marshal(a *anchor.Anchor) (rec []byte, vals *outOfLine, err error) {
	head, values := anchor.SplitOutOfLine(a)
	if rec, err = anchor.Marshal(head); err != nil {
		return nil, nil, err
	}
	h := w.held[a.ID]
	had := h == nil || !h.read || (len(h.rec) > 0 && h.rec[0] == anchor.FormatOutOfLine)
	if len(values) == 0 && !had {
		return rec, nil, nil // neither the old record nor the new one refers to a value
	}
	vals = &outOfLine{id: a.ID, values: values}
	for name, f := range head.Fields {
		if f.Ref != nil {
			vals.keep = append(vals.keep, name)
		}
	}
	return rec, vals, nil
}

// outOfLine is what one PutAnchor writes to the vals table.
type outOfLine struct {
	id     anchor.ID
	values map[string][]byte // written
	keep   []string          // every field the record refers to
}

// queue queues the writes of o on the transaction's pending batch (after
// the anchor's exclusive lock): rows the record no longer refers to go,
// new values are written.
func (w *wtx) queueValues(o *outOfLine) {
	if o == nil {
		return
	}
	keep := o.keep
	if keep == nil {
		keep = []string{}
	}
	w.pending.Queue(`DELETE FROM `+w.s.t.vals+` WHERE id = $1 AND NOT (name = ANY($2::text[]))`, o.id[:], keep)
	for name, v := range o.values {
		w.pending.Queue(`INSERT INTO `+w.s.t.vals+` (id, name, value) VALUES ($1, $2, $3)
			ON CONFLICT (id, name) DO UPDATE SET value = EXCLUDED.value`, o.id[:], name, v)
	}
}

// FieldValue reads the value of field name of anchor id (with the writes
// queued before it), checked against the reference in id's record.
func (w *wtx) FieldValue(id anchor.ID, name string) ([]byte, error) {
	a, err := w.Anchor(id)
	if err != nil {
		return nil, err
	}
	inline, ref, err := a.StoredField(name)
	if err != nil || ref == nil {
		return inline, err
	}
	b := w.take()
	var v []byte
	b.Queue(`SELECT value FROM `+w.s.t.vals+` WHERE id = $1 AND name = $2`, id[:], name).QueryRow(func(r pgx.Row) error {
		if err := r.Scan(&v); !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return nil
	})
	if err := w.send(b); err != nil {
		return nil, err
	}
	return checkValue(id, name, *ref, v)
}

func checkValue(id anchor.ID, name string, ref anchor.Ref, v []byte) ([]byte, error) {
	if v == nil {
		return nil, &anchor.Error{Op: "read", ID: id, Field: name, Err: fmt.Errorf("%w: out-of-line value missing", anchor.ErrCorrupt)}
	}
	if err := ref.Check(v); err != nil {
		return nil, &anchor.Error{Op: "read", ID: id, Field: name, Err: err}
	}
	return v, nil
}

// loadValues replaces a's references with their values, read through r.
func (r *rtx) loadValues(a *anchor.Anchor) (*anchor.Anchor, error) {
	if !a.Unloaded() {
		return a, nil
	}
	rows, err := r.q.Query(r.ctx, `SELECT name, value FROM `+r.s.t.vals+` WHERE id = $1`, a.ID[:])
	if err != nil {
		return nil, err
	}
	got := make(map[string][]byte)
	for rows.Next() {
		var name string
		var v []byte
		if err := rows.Scan(&name, &v); err != nil {
			rows.Close()
			return nil, err
		}
		got[name] = v
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for name, f := range a.Fields {
		if f.Ref == nil {
			continue
		}
		v, err := checkValue(a.ID, name, *f.Ref, got[name])
		if err != nil {
			return nil, err
		}
		a.Fields[name] = anchor.Field{Value: v, Stamp: f.Stamp, Origin: f.Origin}
	}
	return a, nil
}

// CheckStorage reports every vals row whose anchor's record does not
// refer to it. (A referenced value that is missing or damaged is found
// when Verify reads the anchor.)
func (v *view) CheckStorage(report func(kind string, id anchor.ID, detail string)) error {
	if v.meta.Schema < 3 {
		return nil // no vals table yet (a layout-2 store opened read-only)
	}
	rows, err := v.q.Query(v.ctx, `SELECT v.id, v.name, length(v.value), a.rec IS NULL FROM `+v.s.t.vals+` v
		LEFT JOIN `+v.s.t.anchors+` a ON a.id = v.id ORDER BY v.id, v.name`)
	if err != nil {
		return err
	}
	type row struct {
		id      []byte
		name    string
		size    int64
		missing bool
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.name, &r.size, &r.missing); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, r := range all {
		id, err := anchor.IDFromBytes(r.id)
		if err != nil {
			report(backend.ProblemCorrupt, id, fmt.Sprintf("out-of-line value key %x", r.id))
			continue
		}
		if r.missing {
			report(backend.ProblemValueOrphan, id, fmt.Sprintf("value of field %q (%d bytes) without its anchor", r.name, r.size))
			continue
		}
		a, err := v.rtx.head(id)
		if err != nil {
			continue // a damaged record is reported by the anchor scan
		}
		if f, ok := a.Fields[r.name]; !ok || f.Ref == nil {
			report(backend.ProblemValueOrphan, id, fmt.Sprintf("value of field %q (%d bytes) the record does not refer to", r.name, r.size))
		}
	}
	return nil
}
