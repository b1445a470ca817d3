package delta

import (
	"errors"

	"github.com/anchorage-db/anchorage/anchor"
)

// A plan's reads: every anchor a batch touches is read once, through the
// plan, so later changes of the batch see earlier ones. What the batch may
// change is a copy (get); what it only checks may be the SharedReader's own
// value (peek), copied only if a later change of the batch needs it.

// get returns the anchor as it stands in this batch (stored state plus the
// batch's earlier changes), or nil if it does not exist. The batch may
// change what it returns.
func (p *plan) get(id anchor.ID) (*anchor.Anchor, error) {
	if a, ok := p.cache.get(id); ok {
		return a, nil
	}
	if _, shared := p.tx.(SharedReader); shared {
		s, err := p.peek(id)
		if err != nil || s == nil {
			return nil, err
		}
		a := s.Clone() // the stored value (p.stored) stays as it is: storedEntries
		p.cache.set(id, a)
		return a, nil
	}
	a, err := p.tx.Anchor(id)
	if errors.Is(err, anchor.ErrNotFound) {
		p.cache.set(id, nil)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := p.remember(a); err != nil {
		return nil, err
	}
	p.cache.set(id, a)
	return a, nil
}

// peek is get for reading only: the caller must not modify what it
// returns. An anchor the batch has not changed comes from a SharedReader
// as it is, not copied (the shared root every connect checks), and is
// kept in p.stored; get copies it when a change needs it.
func (p *plan) peek(id anchor.ID) (*anchor.Anchor, error) {
	if a, ok := p.cache.get(id); ok {
		return a, nil
	}
	if s, ok := p.stored.get(id); ok {
		return s, nil
	}
	sr, shared := p.tx.(SharedReader)
	if !shared {
		return p.get(id)
	}
	a, err := sr.SharedAnchor(id)
	if errors.Is(err, anchor.ErrNotFound) {
		p.cache.set(id, nil)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p.stored.set(id, a) // its index entries are worked out if it is written (storedEntries)
	return a, nil
}

// live returns the anchor, failing with a typed error if it is missing or a tombstone.
func (p *plan) live(op string, id anchor.ID) (*anchor.Anchor, error) {
	a, err := p.get(id)
	return p.alive(op, id, a, err)
}

// livePeek is live for reading only (see peek).
func (p *plan) livePeek(op string, id anchor.ID) (*anchor.Anchor, error) {
	a, err := p.peek(id)
	return p.alive(op, id, a, err)
}

// alive passes on a read of id, or fails it with a typed error if the
// anchor is missing or a tombstone.
func (p *plan) alive(op string, id anchor.ID, a *anchor.Anchor, err error) (*anchor.Anchor, error) {
	switch {
	case err != nil:
		return nil, err
	case a == nil:
		return nil, p.fail(op, id, "", anchor.ErrNotFound)
	case !a.Live():
		return nil, p.fail(op, id, "", anchor.ErrDeleted)
	}
	return a, nil
}
