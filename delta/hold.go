package delta

import (
	"bytes"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/anchorage-db/anchorage/anchor"
)

// HeldKey is the small value under which a store keeps the remote edges
// that arrived before one of their endpoints (or before the restore that
// began the endpoint's life they belong to, see restore.go): a merge holds
// such an edge (counted as Held) instead of refusing it, and every later
// merge applies the held edges whose endpoints have arrived. Held edges are not anchors:
// they are invisible to walkers and to Verify until they are applied.
//
// A held edge keeps the root its merge acted as (Merge.Root) and is
// applied as that root, whichever merge brings its endpoint: the checks
// that needed the endpoint (Connect on it) run then. An edge held by a
// build older than this rule carries no root and is applied as before, as
// the root of the merge that releases it.
const HeldKey = "delta/held-edges"

// held is the merge's view of the held edges: records as anchor.Marshal
// wrote them, origins filled in.
type held struct {
	loaded  bool
	changed bool
	recs    []heldRec
}

type heldRec struct {
	ID  anchor.ID `msgpack:"i"`
	Rec []byte    `msgpack:"r"`
	// Root is the root the holding merge acted as (zero: trusted), or
	// absent in a record of an older build (see HeldKey).
	Root *anchor.ID `msgpack:"o,omitempty"`
}

func (p *plan) loadHeld() error {
	if p.held.loaded {
		return nil
	}
	p.held.loaded = true
	raw, err := p.tx.Meta(HeldKey)
	if err != nil || len(raw) == 0 {
		return err
	}
	if err := msgpack.Unmarshal(raw, &p.held.recs); err != nil {
		return fmt.Errorf("%w: %s: %v", anchor.ErrCorrupt, HeldKey, err)
	}
	return nil
}

// hold keeps r, an edge one of whose endpoints does not exist here yet.
func (p *plan) hold(r *anchor.Anchor) error {
	if err := p.loadHeld(); err != nil {
		return err
	}
	rec, err := anchor.Marshal(r)
	if err != nil {
		return err
	}
	p.stats.count(r.Kind, func(c *Counts) { c.Held++ })
	root := p.root
	for _, h := range p.held.recs {
		if h.ID == r.ID && bytes.Equal(h.Rec, rec) && h.Root != nil && *h.Root == root {
			return nil // the same version held already, for the same root
		}
	}
	p.held.recs = append(p.held.recs, heldRec{ID: r.ID, Rec: rec, Root: &root})
	p.held.changed = true
	return nil
}

// releaseHeld merges every held edge that can now be applied: it exists
// here (a tombstone arrived meanwhile) or both its endpoints do, in the
// lives the edge belongs to or later ones. The rest stay held; the list
// is written with the merge when it changed.
func (p *plan) releaseHeld() error {
	if err := p.loadHeld(); err != nil {
		return err
	}
	keep := p.held.recs[:0:0]
	for _, rec := range p.held.recs {
		r, err := anchor.Unmarshal(rec.ID, rec.Rec)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", anchor.ErrCorrupt, HeldKey, err)
		}
		ready, err := p.ready(r)
		if err != nil {
			return err
		}
		if !ready {
			keep = append(keep, rec)
			continue
		}
		p.held.changed = true
		if err := p.mergeAs(rec.Root, r); err != nil {
			return err
		}
	}
	p.held.recs = keep
	if !p.held.changed {
		return nil
	}
	raw, err := msgpack.Marshal(p.held.recs)
	if err != nil {
		return err
	}
	if len(p.held.recs) == 0 {
		raw = []byte{}
	}
	if p.meta == nil {
		p.meta = make(map[string][]byte)
	}
	p.meta[HeldKey] = raw
	return nil
}

// mergeAs merges held edge r as the root that sent it (nil: as the
// releasing merge's root, for a record of an older build).
func (p *plan) mergeAs(root *anchor.ID, r *anchor.Anchor) error {
	if root == nil {
		return p.merge(r)
	}
	releasing := p.root
	p.root = *root
	defer func() { p.root = releasing }()
	return p.merge(r)
}

// ready reports whether held edge r can be merged now.
func (p *plan) ready(r *anchor.Anchor) (bool, error) {
	if s, err := p.get(r.ID); err != nil || s != nil {
		return s != nil, err
	}
	for _, end := range []anchor.ID{r.Source, r.Target} {
		n, err := p.get(end)
		if err != nil || n == nil {
			return false, err
		}
		if wait, _ := endpointLife(r, n); wait {
			return false, nil // the endpoint's life r belongs to is not here yet
		}
	}
	return true, nil
}
