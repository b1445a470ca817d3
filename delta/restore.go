package delta

import (
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
)

// Restoring (undeleting) an anchor.
//
// A restore gives a tombstoned node, walker or object a new life under its
// ID: Deleted goes back to zero and Restored takes the restore's stamp.
// Fields and access are the ones the anchor had when it was deleted (a
// later Set changes them as usual). Edges are not restored: connect a new
// edge instead. The edges a node's deletion took with it stay deleted.
//
// Between replicas, an anchor's liveness is decided per life, a life being
// named by its Restored stamp (zero: the life that began at creation):
//
//   - a remote record of a later life than the stored one (greater
//     Restored) replaces the stored liveness whole: a tombstone whose
//     restore arrives becomes live again (and a later delete of that life,
//     if the record carries one, takes it again);
//   - a remote record of an earlier life leaves the stored liveness as it
//     is (its tombstone or liveness lost to a newer restore: a conflict);
//   - within one life the rules of Merge hold (a tombstone wins over
//     liveness; between two tombstones the earlier stamp is kept).
//
// Since a restore is stamped after the tombstone it undoes, a restore
// newer than a replica's tombstone makes the anchor live again there, and
// a delete made after seeing a restore wins over it. Two restores of one
// anchor never tie on a store (each is stamped by the store's HLC after
// every stamp it saw); across stores an exact tie of both Restored stamps
// means the same life, merged by the rules of one life, so every order of
// merges converges.
//
// An edge belongs to the lives of its endpoints it was created in
// (SourceEpoch, TargetEpoch: their Restored stamps then). It is live only
// while both endpoints are live in those same lives: when an endpoint
// moves on to a later life the edge is tombstoned (at the later of the new
// life's restore stamp and the edge's creation), and an edge arriving for
// a life of its endpoint this store has not seen yet is held (see CountHeld)
// until that life arrives, as an edge whose endpoint has not arrived.

// restore is a walker's undelete of id: access is checked (Write, as for a
// delete) against the stored tombstone.
func (p *plan) restore(id anchor.ID) error {
	a, err := p.get(id)
	switch {
	case err != nil:
		return err
	case a == nil:
		return p.fail("restore", id, "", anchor.ErrNotFound)
	case a.Live():
		return nil // the outcome the walker asked for, as a repeated delete
	case a.Kind == anchor.KindEdge:
		return p.fail("restore", id, "", fmt.Errorf("%w: an edge is not restored; connect a new one", anchor.ErrIntegrity))
	}
	if err := p.need("restore", a, anchor.Write); err != nil {
		return err
	}
	a.Deleted, a.Restored = 0, p.stamp
	p.markDirty(a)
	if a.Kind == anchor.KindNode {
		p.arrive(id, false) // edges held for an earlier life of it are applied (as tombstones)
	}
	return nil
}

// setEpochs fills the life fields of n, an anchor a walker creates: a new
// anchor is in its first life, and a new edge belongs to its endpoints'
// current lives.
func (p *plan) setEpochs(n *anchor.Anchor) {
	n.Restored, n.SourceEpoch, n.TargetEpoch = 0, 0, 0
	if n.Kind != anchor.KindEdge {
		return
	}
	if s, err := p.peek(n.Source); err == nil && s != nil {
		n.SourceEpoch = s.Restored
	}
	if t, err := p.peek(n.Target); err == nil && t != nil {
		n.TargetEpoch = t.Restored
	}
}

// epochOf returns the life of endpoint node that edge e belongs to.
func epochOf(e *anchor.Anchor, node anchor.ID) anchor.HLC {
	if e.Source == node {
		return e.SourceEpoch
	}
	return e.TargetEpoch
}

// lifeMismatch says why the remote record r cannot merge with the stored
// s: a restore is a write, so it is no later than the record's Updated;
// an edge is never restored, and the lives an edge belongs to never
// change ("" if none).
func lifeMismatch(s, r *anchor.Anchor) string {
	if r.Restored > r.Updated {
		return fmt.Sprintf("restored at %s, after its last update %s", r.Restored, r.Updated)
	}
	if r.Kind != anchor.KindEdge {
		return ""
	}
	if r.Restored != 0 {
		return "an edge is never restored"
	}
	if s != nil && (s.SourceEpoch != r.SourceEpoch || s.TargetEpoch != r.TargetEpoch) {
		return fmt.Sprintf("endpoint lives disagree with the stored %s (they never change)", s)
	}
	return ""
}

// mergeLife merges the liveness of remote record r into the stored s, by
// the rules above. changed says s changed; conflict says r's liveness lost.
func (p *plan) mergeLife(s, r *anchor.Anchor) (changed, conflict bool, err error) {
	switch {
	case r.Restored > s.Restored:
		s.Restored = r.Restored
		switch {
		case r.Live():
			s.Deleted = 0
		case s.Live():
			p.tombstoneAt(s, r.Deleted)
			if s.Kind == anchor.KindNode {
				if err := p.cascade(s.ID, r.Deleted); err != nil {
					return false, false, err
				}
			}
		default:
			s.Deleted = r.Deleted
		}
		if s.Kind == anchor.KindNode {
			if err := p.supersede(s.ID, s.Restored); err != nil {
				return false, false, err
			}
		}
		return true, false, nil
	case r.Restored < s.Restored:
		return false, r.Live() != s.Live(), nil
	}
	switch {
	case !r.Live() && s.Live():
		p.tombstoneAt(s, r.Deleted)
		if s.Kind == anchor.KindNode {
			if err := p.cascade(s.ID, r.Deleted); err != nil {
				return false, false, err
			}
		}
		return true, false, nil
	case !r.Live() && r.Deleted < s.Deleted:
		s.Deleted = r.Deleted
		return true, false, nil
	case r.Live() && !s.Live():
		return false, true, nil // deletion wins
	}
	return false, false, nil
}

// coversLife reports whether merging r's liveness into s would change
// nothing: r is of an earlier life than s, or of the same life and either
// live or a tombstone no earlier than s's. An edge's endpoint lives must
// be the same.
func coversLife(s, r *anchor.Anchor) bool {
	switch {
	case s.SourceEpoch != r.SourceEpoch || s.TargetEpoch != r.TargetEpoch:
		return false
	case r.Restored != s.Restored:
		return r.Restored < s.Restored
	}
	return r.Live() || (!s.Live() && s.Deleted <= r.Deleted)
}

// supersede tombstones node's live edges that belong to an earlier life of
// it than life, at the later of life and the edge's creation (as
// insertRemote stamps such an edge arriving after the new life).
func (p *plan) supersede(node anchor.ID, life anchor.HLC) error {
	return p.dropEdges(node, life, func(e *anchor.Anchor) bool { return epochOf(e, node) < life })
}

// endpointLife says what a live remote edge r can do with its stored
// endpoint n: wait (n's life r belongs to has not arrived: hold r), or die
// at the returned stamp (n has moved on to a later life, or is deleted in
// r's life); at is zero when r may be live as far as n is concerned.
func endpointLife(r, n *anchor.Anchor) (wait bool, at anchor.HLC) {
	life := epochOf(r, n.ID)
	switch {
	case life > n.Restored:
		return true, 0
	case life < n.Restored:
		return false, max(n.Restored, r.Created)
	case !n.Live():
		return false, max(n.Deleted, r.Created) // the node's deletion takes the edge
	}
	return false, 0
}
