package delta

import (
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
)

// ReadCheck is one read a walker asks its batch to validate (read
// validation, tiered.Options.ValidateReads): the batch fails with
// anchor.ErrConflict, writing nothing, if what the walker read has changed
// since. Exactly one of Updated or List is meaningful.
type ReadCheck struct {
	// ID and Updated: the walker read anchor ID when its Updated stamp
	// was Updated; any later write to it (a tombstone included) fails
	// the batch.
	ID      anchor.ID
	Updated anchor.HLC
	// List: the walker listed edges of a node; the listing must still
	// give the same rows.
	List *ListCheck
}

// ListCheck is a listing of a node's edges (Edges with Query) that the
// walker read: Edges are the rows' edge IDs it saw from the start, in
// order, and Complete says it read to the end (so no edge may have been
// added either).
type ListCheck struct {
	Node     anchor.ID
	Query    EdgeQuery // its After is ignored: listings are checked from the start
	Edges    []anchor.ID
	Complete bool
}

// checkReads fails the batch if a read it validates changed. A listing
// locks its node first (Tx.Lock), so no other transaction adds or removes
// one of its edges before this one commits.
func (p *plan) checkReads(checks []ReadCheck) error {
	for _, c := range checks {
		if c.List == nil {
			a, err := p.get(c.ID)
			if err != nil {
				return err
			}
			switch {
			case a == nil:
				return p.fail("validate read", c.ID, "", fmt.Errorf("%w: read at %s, no longer stored", anchor.ErrConflict, c.Updated))
			case a.Updated != c.Updated || !a.Live():
				return p.fail("validate read", c.ID, "", fmt.Errorf("%w: read at %s, written since (at %s)", anchor.ErrConflict, c.Updated, max(a.Updated, a.Deleted)))
			}
			continue
		}
		l := c.List
		if err := p.tx.Lock(l.Node); err != nil {
			return err
		}
		q := l.Query
		q.After = nil
		i := 0
		changed := false
		err := Edges(p.tx, l.Node, q, func(r *EdgeEntry) error {
			if i == len(l.Edges) {
				changed = l.Complete
				return errStopScan
			}
			if r.Edge != l.Edges[i] {
				changed = true
				return errStopScan
			}
			i++
			return nil
		})
		if err != nil && !isStop(err) {
			return err
		}
		if changed || i < len(l.Edges) {
			return p.fail("validate read", l.Node, "", fmt.Errorf("%w: its %s edges of type %q changed since the walker listed them", anchor.ErrConflict, dirName(q.Dir), q.Type))
		}
	}
	return nil
}

func dirName(d anchor.Direction) string {
	if d == 0 {
		return "all"
	}
	return d.String()
}
