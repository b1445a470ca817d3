package delta

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/anchorage-db/anchorage/anchor"
)

// Merge is a replication write: other replicas' whole states of some
// anchors, with their stamps, merged into the stored state by these rules:
//
//   - fields and access entries: per field and per entry (Access.All and
//     each root's grant), the greater (stamp, origin) wins, where a zero
//     origin stands for the replica that holds the value and, on a tie of
//     both, the greater value (so every order of merges converges);
//   - deletion wins over liveness within one life of an anchor, and a
//     later life (a restore, see restore.go) wins over an earlier one; a
//     node tombstone takes the node's incident edges with it, as a local
//     delete does; between two tombstones the earlier stamp is kept;
//     an edge taken by its node's tombstone is deleted at the later of the
//     node's deletion and the edge's creation, wherever that happens;
//   - Updated is the latest stamp any replica gave the record: a remote
//     record with a later Updated changes it even when nothing else
//     differs, so converged replicas hold identical records;
//   - a live edge whose endpoint is deleted here is stored as a tombstone
//     (counted as a conflict); one whose endpoint does not exist here yet
//     is held (see CountHeld) and applied by the merge that brings it;
//   - kind, owner, type and edge endpoints never change after creation:
//     a remote record that disagrees is refused and reported;
//   - an anchor of a write-once type (see WriteOnceKey) keeps its fields:
//     remote fields for it are ignored.
//
// Merging is idempotent and commutative: applying the same remote state
// again changes nothing, writes nothing and logs nothing, so an interrupted
// import can simply be resumed.
//
// With Root zero the merge is trusted (the system root: replication
// between one owner's stores). With Root set, every remote anchor is
// checked as that root's walker would be: a new anchor must be owned by
// Root (and a new edge needs Connect on both endpoints), changing fields or
// deleting needs Write on the stored anchor, changing access needs to be
// its owner; a record that fails is refused and reported, not written.
type Merge struct {
	// From is the replica the anchors come from.
	From anchor.ID
	// Root is the principal the merge acts as (zero: trusted).
	Root anchor.ID
	// MaxStamp refuses remote anchors stamped later than it (0: no bound).
	MaxStamp anchor.HLC
	// Anchors are the remote states, merged in dependency order (nodes
	// before edges).
	Anchors []*anchor.Anchor
	// Meta holds small values written in the same transaction (import
	// cursors).
	Meta map[string][]byte
}

func (m *Merge) validate() error {
	for i, a := range m.Anchors {
		if a == nil {
			return fmt.Errorf("%w: merge anchor %d is nil", anchor.ErrInvalid, i)
		}
	}
	return nil
}

func (m *Merge) apply(p *plan) error {
	p.root, p.remote, p.maxRemote, p.meta = m.Root, m.From, m.MaxStamp, m.Meta
	for _, edges := range []bool{false, true} {
		for _, r := range m.Anchors {
			if (r.Kind == anchor.KindEdge) != edges {
				continue
			}
			if err := p.merge(r); err != nil {
				return err
			}
		}
	}
	return p.releaseHeld()
}

// Counts tallies what a merge did with the remote anchors of one kind.
type Counts struct {
	Inserted  int // new here
	Updated   int // existing here, changed by the merge
	Skipped   int // existing here, nothing newer in the remote state
	Conflicts int // a remote field or liveness lost to newer local state
	Refused   int // not applied: see MergeStats.Refusals
	Held      int // edges kept until an endpoint arrives (see CountHeld)
}

// Refusal says why one remote anchor was not applied.
type Refusal struct {
	ID     anchor.ID
	Reason string
	// Retry: refused for now (stamped beyond the accepted bound); the same
	// record is applied by a later merge once the bound allows it.
	Retry bool
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
		t.Held += c.Held
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
		t.Held += c.Held
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

// wins reports whether a remote value (mark r, bytes rv) beats the stored
// one (s, sv), holding zero origins to mean their holder's replica.
func wins(r, s anchor.Mark, rv, sv []byte, remote, local anchor.ID) bool {
	if r.At != s.At {
		return r.At > s.At
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
	return bytes.Compare(rv, sv) > 0 // same write seen twice: equal values, no change
}

// FutureReason is the reason given for a record whose latest stamp top is
// beyond the accepted bound.
func FutureReason(top, bound anchor.HLC) string {
	return fmt.Sprintf("stamp %s is beyond the accepted bound %s (clock skew or a forged record); kept for a later import", top, bound)
}

func (p *plan) refuse(r *anchor.Anchor, format string, args ...any) {
	p.stats.count(r.Kind, func(c *Counts) { c.Refused++ })
	p.stats.Refusals = append(p.stats.Refusals, Refusal{ID: r.ID, Reason: fmt.Sprintf(format, args...)})
}

// Latest returns the greatest stamp r carries (created, updated, deleted,
// any field or access entry): what a merge compares with Merge.MaxStamp.
func Latest(r *anchor.Anchor) anchor.HLC {
	m := max(r.Created, r.Updated, r.Deleted, r.AccessStamp())
	for _, f := range r.Fields {
		m = max(m, f.Stamp)
	}
	return m
}

// merge applies one remote anchor state.
func (p *plan) merge(remote *anchor.Anchor) error {
	r := remote.Clone()
	if !r.Kind.Valid() {
		p.refuse(r, "unknown kind %d", uint8(r.Kind))
		return nil
	}
	if err := validAnchor(r); err != nil {
		p.refuse(r, "%v", err)
		return nil
	}
	if r.Kind == anchor.KindEdge {
		// An edge to no anchor, or to itself, would be held for an
		// endpoint that never arrives.
		switch {
		case r.Source.IsZero() || r.Target.IsZero():
			p.refuse(r, "an edge without both endpoints")
			return nil
		case r.Source == r.ID || r.Target == r.ID:
			p.refuse(r, "an edge is not its own endpoint")
			return nil
		}
	}
	if top := Latest(r); p.maxRemote != 0 && top > p.maxRemote {
		p.refuse(r, "%s", FutureReason(top, p.maxRemote))
		p.stats.Refusals[len(p.stats.Refusals)-1].Retry = true
		return nil
	}
	// Give every field and access entry its origin (and every entry its
	// mark), so it keeps them once stored here.
	for name, f := range r.Fields {
		if f.Origin.IsZero() {
			f.Origin = p.remote
			r.Fields[name] = f
		}
	}
	for _, key := range accessKeys(r) {
		m := MarkOf(r, key)
		if m.Origin.IsZero() {
			m.Origin = p.remote
		}
		setMark(r, key, m)
	}
	s, err := p.get(r.ID)
	if err != nil {
		return err
	}
	if why := lifeMismatch(s, r); why != "" {
		p.refuse(r, "%s", why)
		return nil
	}
	if s == nil {
		if why := p.mayInsert(r); why != "" {
			p.refuse(r, "%s", why)
			return nil
		}
		return p.insertRemote(r)
	}
	if s.Kind != r.Kind || s.Owner != r.Owner || s.Type != r.Type ||
		(r.Kind == anchor.KindEdge && (s.Source != r.Source || s.Target != r.Target || s.Undirected != r.Undirected)) {
		p.refuse(r, "header disagrees with the stored %s (kind, owner, type and endpoints never change)", s)
		return nil
	}
	p.arrive(s.ID, false) // held edges may wait for a life of it this merge brings, or an earlier one
	before := s.Clone()
	changed, conflicts := false, 0
	once, err := p.isWriteOnce(s.Type)
	if err != nil {
		return err
	}
	if once {
		r.Fields = nil // a write-once anchor keeps the fields it was created with
	}
	for name, rf := range r.Fields {
		sf, had := s.Fields[name]
		if had && sf.Ref != nil {
			v, err := p.value(s, name, sf)
			if err != nil {
				return err
			}
			sf = anchor.Field{Value: v, Stamp: sf.Stamp, Origin: sf.Origin}
		}
		switch {
		case !had || wins(anchor.Mark{At: rf.Stamp, Origin: rf.Origin}, anchor.Mark{At: sf.Stamp, Origin: sf.Origin}, rf.Value, sf.Value, p.remote, p.local):
			// (Equal stamps and values with a greater origin win too: two
			// replicas that wrote the same value at the same stamp end
			// with the same origin, so their records are identical.)
			if s.Fields == nil {
				s.Fields = make(map[string]anchor.Field)
			}
			s.Fields[name] = rf
			changed = true
		case !bytes.Equal(sf.Value, rf.Value):
			conflicts++ // the remote value lost to a newer local one
		}
	}
	for _, key := range accessKeys(r) {
		rl, _ := r.Access.Entry(key)
		sl, had := s.Access.Entry(key)
		rm, sm := MarkOf(r, key), MarkOf(s, key)
		if had && !wins(rm, sm, []byte{byte(rl)}, []byte{byte(sl)}, p.remote, p.local) {
			continue
		}
		if had && rl == sl && rm == sm {
			continue
		}
		s.Access.SetEntry(key, rl)
		setMark(s, key, rm)
		changed = true
	}
	// Updated is the latest stamp any replica gave the record: the greater
	// one wins alone too, so tombstones whose stamps were set in different
	// orders (a cascade here, a later delete there) end identical.
	if r.Updated > s.Updated && !once {
		changed = true
	}
	if changed || (!r.Live() && s.Live()) || r.Restored > s.Restored {
		after := s.Clone()
		after.Deleted = max(s.Deleted, r.Deleted)
		why := p.mayChange(before, after)
		if why == "" && over(p.maxFields, len(s.Fields)) {
			why = fmt.Sprintf("the anchor would hold %d fields (at most %d)", len(s.Fields), p.maxFields)
		}
		if why != "" {
			p.cache.set(s.ID, before) // undo: nothing of this record is written
			p.refuse(r, "%s", why)
			return nil
		}
	}
	lifeChanged, lost, err := p.mergeLife(s, r) // restore.go
	if err != nil {
		return err
	}
	changed = changed || lifeChanged
	if lost {
		conflicts++
	}
	if changed {
		p.markDirtyAt(s, max(s.Updated, r.Updated))
		p.stats.count(r.Kind, func(c *Counts) { c.Updated++; c.Conflicts += conflicts })
	} else {
		p.stats.count(r.Kind, func(c *Counts) { c.Skipped++; c.Conflicts += conflicts })
	}
	p.stats.MaxStamp = max(p.stats.MaxStamp, Latest(r))
	return nil
}

// accessKeys lists a's access entries, Access.All (SystemRoot) first.
func accessKeys(a *anchor.Anchor) []anchor.ID {
	return append([]anchor.ID{anchor.SystemRoot}, anchor.SortedIDs(a.Access.Roots)...)
}

// mayInsert says why the merge's principal may not insert r ("" if it may).
func (p *plan) mayInsert(r *anchor.Anchor) string {
	if p.root.IsZero() {
		return ""
	}
	if r.Owner != p.root {
		return fmt.Sprintf("root %s may not create an anchor owned by %s", p.root, r.Owner)
	}
	if r.Kind == anchor.KindEdge && r.Live() {
		for _, end := range []anchor.ID{r.Source, r.Target} {
			if n, err := p.get(end); err == nil && n != nil && !n.Allows(p.root, anchor.Connect) {
				return fmt.Sprintf("root %s lacks connect on endpoint %s", p.root, end)
			}
		}
	}
	return ""
}

// mayChange says why the merge's principal may not turn before into after
// ("" if it may): fields and deletion need Write, access needs ownership.
func (p *plan) mayChange(before, after *anchor.Anchor) string {
	if p.root.IsZero() {
		return ""
	}
	if !before.Access.Equal(after.Access) && p.root != before.Owner {
		return fmt.Sprintf("root %s may not change the access of an anchor owned by %s", p.root, before.Owner)
	}
	if !before.Allows(p.root, anchor.Write) {
		return fmt.Sprintf("root %s lacks write on %s", p.root, before)
	}
	return ""
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
				return p.hold(r, end) // applied by the merge that brings the endpoint
			case n.Kind != anchor.KindNode:
				p.refuse(r, "endpoint %s is a %s", end, n.Kind)
				return nil
			}
			// A later life of the endpoint, or its deletion, takes the
			// edge; an edge of a life not here yet waits for it.
			switch wait, at := endpointLife(r, n); {
			case wait:
				return p.hold(r, end)
			case at != 0:
				r.Deleted = at
				conflict = 1
			}
		}
	}
	if r.Kind != anchor.KindEdge {
		r.Source, r.Target, r.Undirected = anchor.ID{}, anchor.ID{}, false
		r.SourceEpoch, r.TargetEpoch = 0, 0
	}
	p.arrive(r.ID, true) // (edges held for it are applied, or refused if it is no node)
	if r.Kind == anchor.KindEdge && r.Live() {
		for _, row := range r.Adjacency() {
			p.adj.set(adjKey{row.Node, row.Edge}, plannedRow{row, true})
		}
	}
	p.cache.set(r.ID, r)
	p.markDirtyAt(r, max(r.Updated, r.Deleted))
	p.stats.count(r.Kind, func(c *Counts) { c.Inserted++; c.Conflicts += conflict })
	p.stats.MaxStamp = max(p.stats.MaxStamp, Latest(r))
	return nil
}

// cascade tombstones node's live edges at stamp: a deleted node takes its
// edges with it, whether the delete is local or replicated.
func (p *plan) cascade(node anchor.ID, stamp anchor.HLC) error {
	return p.dropEdges(node, stamp, func(*anchor.Anchor) bool { return true })
}

// dropEdges tombstones those of node's live edges that drop selects, each
// at the later of stamp and its creation (as insertRemote stamps an edge
// arriving after its node's tombstone or new life).
func (p *plan) dropEdges(node anchor.ID, stamp anchor.HLC, drop func(e *anchor.Anchor) bool) error {
	rows, err := p.adjacent(node)
	if err != nil {
		return err
	}
	for _, row := range rows {
		e, err := p.get(row.Edge)
		if err != nil {
			return err
		}
		if e != nil && e.Live() && drop(e) {
			at := max(stamp, e.Created)
			p.tombstoneAt(e, at)
			p.markDirtyAt(e, max(e.Updated, at))
		}
	}
	return nil
}

// metaKeys returns the keys of m, sorted, so writes happen in a stable order.
func metaKeys(m map[string][]byte) []string {
	return slices.Sorted(maps.Keys(m))
}
