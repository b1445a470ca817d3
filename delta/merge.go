package delta

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/anchorage-db/anchorage/anchor"
)

// Replication: a Change whose Remote is set carries another replica's
// whole state of one anchor, with that replica's stamps. Apply merges it
// into the stored state instead of applying a walker's edit:
//
//   - fields: per field, the greater (Stamp, Origin) wins, where a zero
//     Origin stands for the replica that holds the field;
//   - access grants: the greater AccessStamp wins;
//   - deletion wins over liveness (a tombstone is never revived), and a
//     node tombstone takes the node's incident edges with it, as a local
//     delete does; between two tombstones the earlier stamp is kept;
//   - a live edge whose endpoint is deleted here is stored as a tombstone
//     (counted as a conflict); one whose endpoint does not exist here is
//     refused and reported;
//   - kind, owner, type and edge endpoints never change after creation:
//     a remote record that disagrees is refused and reported.
//
// Merging is idempotent and commutative: applying the same remote state
// again changes nothing, writes nothing and logs nothing, so an interrupted
// import can simply be resumed. Access checks do not apply to remote
// changes (replication runs as the system root).

// Counts tallies what a merge did with the remote anchors of one kind.
type Counts struct {
	Inserted  int // new here
	Updated   int // existing here, changed by the merge
	Skipped   int // existing here, nothing newer in the remote state
	Conflicts int // a remote field or liveness lost to newer local state
	Refused   int // not applied: see MergeStats.Refusals
}

// Refusal says why one remote anchor was not applied.
type Refusal struct {
	ID     anchor.ID
	Reason string
}

// MergeStats is filled by Apply for the Remote changes of a batch.
type MergeStats struct {
	ByKind   map[anchor.Kind]Counts
	Refusals []Refusal
	MaxStamp anchor.HLC // greatest remote stamp applied
}

// Add accumulates o into m.
func (m *MergeStats) Add(o *MergeStats) {
	if m.ByKind == nil {
		m.ByKind = make(map[anchor.Kind]Counts)
	}
	for k, c := range o.ByKind {
		t := m.ByKind[k]
		t.Inserted += c.Inserted
		t.Updated += c.Updated
		t.Skipped += c.Skipped
		t.Conflicts += c.Conflicts
		t.Refused += c.Refused
		m.ByKind[k] = t
	}
	m.Refusals = append(m.Refusals, o.Refusals...)
	m.MaxStamp = max(m.MaxStamp, o.MaxStamp)
}

// Total returns the counts summed over kinds.
func (m *MergeStats) Total() Counts {
	var t Counts
	for _, c := range m.ByKind {
		t.Inserted += c.Inserted
		t.Updated += c.Updated
		t.Skipped += c.Skipped
		t.Conflicts += c.Conflicts
		t.Refused += c.Refused
	}
	return t
}

func (m *MergeStats) count(k anchor.Kind, f func(*Counts)) {
	if m.ByKind == nil {
		m.ByKind = make(map[anchor.Kind]Counts)
	}
	c := m.ByKind[k]
	f(&c)
	m.ByKind[k] = c
}

// MetaTx is implemented by transactions that keep small named values next
// to the data (import cursors) and let a merge advance the store's clock.
// Apply needs it for batches with Remote changes or Meta writes.
type MetaTx interface {
	Tx
	// Meta returns the value stored under key, or nil.
	Meta(key string) ([]byte, error)
	// PutMeta stores value under key in this transaction.
	PutMeta(key string, value []byte) error
	// Observe moves the store's clock to at least h, so local writes after
	// an import order after everything imported.
	Observe(h anchor.HLC)
}

// fieldWins reports whether remote field r beats stored field s, holding
// zero origins to mean their holder's replica.
func fieldWins(r, s anchor.Field, remote, local anchor.ID) bool {
	if r.Stamp != s.Stamp {
		return r.Stamp > s.Stamp
	}
	ro, so := r.Origin, s.Origin
	if ro.IsZero() {
		ro = remote
	}
	if so.IsZero() {
		so = local
	}
	if c := bytes.Compare(ro[:], so[:]); c != 0 {
		return c > 0
	}
	return bytes.Compare(r.Value, s.Value) > 0 // same write seen twice: equal values, no change
}

func (p *plan) refuse(r *anchor.Anchor, format string, args ...any) {
	p.stats.count(r.Kind, func(c *Counts) { c.Refused++ })
	p.stats.Refusals = append(p.stats.Refusals, Refusal{ID: r.ID, Reason: fmt.Sprintf(format, args...)})
}

func maxStamp(r *anchor.Anchor) anchor.HLC {
	m := max(r.Created, r.Updated, r.Deleted, r.AccessStamp)
	for _, f := range r.Fields {
		m = max(m, f.Stamp)
	}
	return m
}

// merge applies one remote anchor state.
func (p *plan) merge(c *Change) error {
	r := c.Remote.Clone()
	switch {
	case r.ID != c.ID:
		return p.fail("merge", c.ID, "", fmt.Errorf("%w: change for %s carries anchor %s", anchor.ErrIntegrity, c.ID, r.ID))
	case !r.Kind.Valid():
		p.refuse(r, "unknown kind %d", uint8(r.Kind))
		return nil
	}
	if top := maxStamp(r); p.maxRemote != 0 && top > p.maxRemote {
		p.refuse(r, "stamp %s is beyond the accepted bound %s (clock skew or a forged record)", top, p.maxRemote)
		return nil
	}
	// Stamp every field with its origin, so it keeps it once stored here.
	for name, f := range r.Fields {
		if f.Origin.IsZero() {
			f.Origin = p.remote
			r.Fields[name] = f
		}
	}
	s, err := p.get(r.ID)
	if err != nil {
		return err
	}
	if s == nil {
		return p.insertRemote(r)
	}
	if s.Kind != r.Kind || s.Owner != r.Owner || s.Type != r.Type ||
		(r.Kind == anchor.KindEdge && (s.Source != r.Source || s.Target != r.Target || s.Undirected != r.Undirected)) {
		p.refuse(r, "header disagrees with the stored %s (kind, owner, type and endpoints never change)", s)
		return nil
	}
	changed, conflicts := false, 0
	for name, rf := range r.Fields {
		sf, had := s.Fields[name]
		switch {
		case !had || fieldWins(rf, sf, p.remote, p.local):
			if had && bytes.Equal(sf.Value, rf.Value) && sf.Stamp == rf.Stamp {
				continue
			}
			if s.Fields == nil {
				s.Fields = make(map[string]anchor.Field)
			}
			s.Fields[name] = rf
			changed = true
		case !bytes.Equal(sf.Value, rf.Value):
			conflicts++ // the remote value lost to a newer local one
		}
	}
	if r.AccessStamp > s.AccessStamp {
		s.Access, s.AccessStamp = r.Access.Clone(), r.AccessStamp
		changed = true
	}
	switch {
	case !r.Live() && s.Live():
		p.tombstoneAt(s, r.Deleted)
		if s.Kind == anchor.KindNode {
			if err := p.cascade(s.ID, r.Deleted); err != nil {
				return err
			}
		}
		changed = true
	case !r.Live() && r.Deleted < s.Deleted:
		s.Deleted = r.Deleted
		changed = true
	case r.Live() && !s.Live():
		conflicts++ // deletion wins
	}
	if changed {
		p.markDirtyAt(s, max(s.Updated, r.Updated))
		p.stats.count(r.Kind, func(c *Counts) { c.Updated++; c.Conflicts += conflicts })
	} else {
		p.stats.count(r.Kind, func(c *Counts) { c.Skipped++; c.Conflicts += conflicts })
	}
	p.stats.MaxStamp = max(p.stats.MaxStamp, maxStamp(r))
	return nil
}

func (p *plan) insertRemote(r *anchor.Anchor) error {
	conflict := 0
	if r.Kind == anchor.KindEdge && r.Live() {
		for _, end := range []anchor.ID{r.Source, r.Target} {
			n, err := p.get(end)
			switch {
			case err != nil:
				return err
			case n == nil:
				p.refuse(r, "endpoint %s does not exist here", end)
				return nil
			case n.Kind != anchor.KindNode:
				p.refuse(r, "endpoint %s is a %s", end, n.Kind)
				return nil
			case !n.Live():
				r.Deleted = max(n.Deleted, r.Created) // the node's deletion takes the edge
				conflict = 1
			}
		}
	}
	if r.Kind != anchor.KindEdge {
		r.Source, r.Target, r.Undirected = anchor.ID{}, anchor.ID{}, false
	}
	if r.Kind == anchor.KindEdge && r.Live() {
		for _, row := range r.Adjacency() {
			p.adj[adjKey{row.Node, row.Edge}] = &row
		}
	}
	p.cache[r.ID] = r
	p.markDirtyAt(r, r.Updated)
	p.stats.count(r.Kind, func(c *Counts) { c.Inserted++; c.Conflicts += conflict })
	p.stats.MaxStamp = max(p.stats.MaxStamp, maxStamp(r))
	return nil
}

// cascade tombstones node's live edges at stamp: a deleted node takes its
// edges with it, whether the delete is local or replicated.
func (p *plan) cascade(node anchor.ID, stamp anchor.HLC) error {
	rows, err := p.adjacent(node)
	if err != nil {
		return err
	}
	for _, row := range rows {
		e, err := p.get(row.Edge)
		if err != nil {
			return err
		}
		if e != nil && e.Live() {
			p.tombstoneAt(e, stamp)
			p.markDirtyAt(e, max(e.Updated, stamp))
		}
	}
	return nil
}

// metaKeys returns the keys of m, sorted, so writes happen in a stable order.
func metaKeys(m map[string][]byte) []string {
	return slices.Sorted(maps.Keys(m))
}
