package delta

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/vmihailenco/msgpack/v5"

	"github.com/anchorage-db/anchorage/anchor"
)

// keyHeld tags the held-edge entries in the index key space (see
// CountHeld):
//
//	'h' awaited edge sum  -> flags root record
//
// sum is a CRC-32C of the value, so distinct versions of one edge are all
// kept and a version held again is one key; flags say whether root, the
// root the holding merge acted as (Merge.Root), is known.
const keyHeld = 'h'

// HeldKey is the small value under which builds before held-edge entries
// kept every held edge in one list (msgpack of heldRec); the first merge
// of this build moves them to entries and empties it.
const HeldKey = "delta/held-edges"

// heldRec is one edge of the HeldKey list.
type heldRec struct {
	ID  anchor.ID `msgpack:"i"`
	Rec []byte    `msgpack:"r"`
	// Root is the root the holding merge acted as; absent (nil) in lists
	// of builds that did not keep it, whose edges are applied as the
	// root of the merge that releases them, as those builds did.
	Root *anchor.ID `msgpack:"o,omitempty"`
}

// heldRootKnown is the flag of a held entry that names its root.
const heldRootKnown = 1

func heldPrefix(awaited anchor.ID) []byte { return append([]byte{keyHeld}, awaited[:]...) }

// heldValue is a held entry's value: flags, root, then the edge's record.
func heldValue(root *anchor.ID, rec []byte) []byte {
	v := make([]byte, 1+16, 1+16+len(rec))
	if root != nil {
		v[0] = heldRootKnown
		copy(v[1:], root[:])
	}
	return append(v, rec...)
}

// openHeld decodes held entry (k, v): the edge and the root to apply it as
// (nil: the releasing merge's).
func openHeld(k, v []byte) (*anchor.Anchor, *anchor.ID, error) {
	if len(k) != 1+16+16+4 || len(v) < 1+16 {
		return nil, nil, fmt.Errorf("%w: held edge entry %x of %d bytes", anchor.ErrCorrupt, k, len(v))
	}
	r, err := anchor.Unmarshal(anchor.ID(k[17:33]), v[17:])
	if err != nil {
		return nil, nil, fmt.Errorf("held edge entry %x: %w", k, err)
	}
	if r.Kind != anchor.KindEdge {
		return nil, nil, fmt.Errorf("%w: held entry %x holds a %s", anchor.ErrCorrupt, k, r.Kind)
	}
	if v[0]&heldRootKnown == 0 {
		return r, nil, nil
	}
	root := anchor.ID(v[1:17])
	return r, &root, nil
}

// CountHeld returns how many held edge versions r holds.
//
// A merge holds a remote edge that arrived before one of its endpoints (or
// before the restore that began the endpoint's life it belongs to),
// instead of refusing it (MergeStats counts it as Held), and the merge
// that brings that endpoint applies it. Held edges are not anchors:
// walkers do not see them, and Verify checks only their checksums.
//
// Each held edge is an index entry of its own, keyed by the endpoint it
// waits for, so holding one costs one put and the merge that brings a node
// reads only the edges waiting for it: a hub whose record arrives after
// its 10^6 edges costs each of them O(1). A held edge is applied as the
// root whose merge sent it (zero: trusted), so the checks that needed the
// endpoint (Connect on it) run when it arrives, whoever's merge brings it.
func CountHeld(r Reader) (int, error) {
	n := 0
	err := r.Index([]byte{keyHeld}, nil, func([]byte, []byte) error { n++; return nil })
	return n, err
}

// hold keeps r, an edge whose endpoint awaited is not here yet (or not in
// the life r belongs to), until a merge brings it.
func (p *plan) hold(r *anchor.Anchor, awaited anchor.ID) error {
	p.stats.count(r.Kind, func(c *Counts) { c.Held++ })
	root := p.root
	return p.putHeld(r, awaited, &root)
}

// putHeld plans r's held entry under awaited, unless the same version is
// held there already for the same root.
func (p *plan) putHeld(r *anchor.Anchor, awaited anchor.ID, root *anchor.ID) error {
	rec, err := anchor.Marshal(r)
	if err != nil {
		return err
	}
	v := heldValue(root, rec)
	k := binary.LittleEndian.AppendUint32(append(heldPrefix(awaited), r.ID[:]...), crc32.Checksum(v, castagnoli))
	if p.heldPut[string(k)] {
		return nil
	}
	stored, err := getEntry(p.tx, k)
	if err != nil || stored != nil {
		return err
	}
	if p.heldPut == nil {
		p.heldPut = make(map[string]bool)
	}
	p.heldPut[string(k)] = true
	p.ixPut = append(p.ixPut, entry{k: k, v: v})
	return nil
}

// arrive notes that a merge inserted anchor id (created) or merged a
// record of it, or that a walker restored it: the edges held for it are
// looked at when the write ends (applied, or refused if it is not a node).
// created: it is new here, so a concurrent merge may have read it absent
// (see releaseHeld).
func (p *plan) arrive(id anchor.ID, created bool) {
	p.arrived = append(p.arrived, arrival{id, created})
}

// arrival is an anchor a write brought.
type arrival struct {
	id      anchor.ID
	created bool
}

// releaseHeld ends a merge (or a batch that restored a node): it moves a
// list of an older build to entries, then applies each edge held for a
// node that arrived, as the root that sent it, or moves it to the endpoint
// it still waits for.
func (p *plan) releaseHeld() error {
	if err := p.moveHeldList(); err != nil {
		return err
	}
	if len(p.arrived) == 0 {
		return nil
	}
	// Lock the created nodes before looking for their held edges: a
	// concurrent merge (PostgreSQL) that read one of them as missing to
	// hold an edge for it holds its lock until it commits, so either this
	// transaction sees that edge or that one sees the node. (A node that
	// was here is locked already if this merge changed it.)
	for _, a := range p.arrived {
		if a.created {
			if err := p.tx.Lock(a.id); err != nil {
				return err
			}
		}
	}
	some := false
	err := p.tx.Index([]byte{keyHeld}, nil, func([]byte, []byte) error { some = true; return errStopScan })
	if err != nil && !isStop(err) {
		return err
	}
	if !some {
		return nil
	}
	seen := make(map[anchor.ID]bool, len(p.arrived))
	for _, a := range p.arrived {
		id := a.id
		if seen[id] {
			continue
		}
		seen[id] = true
		var keys, vals [][]byte
		err := p.tx.Index(heldPrefix(id), nil, func(k, stored []byte) error {
			v, err := OpenEntry(k, stored)
			if err != nil {
				return err
			}
			keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
			return nil
		})
		if err != nil {
			return err
		}
		for i, k := range keys {
			r, root, err := openHeld(k, vals[i])
			if err != nil {
				return err
			}
			if err := p.release(id, k, r, root); err != nil {
				return err
			}
		}
	}
	return nil
}

// release applies held edge r (entry k, held for id) if it can be applied
// now, or moves it to the endpoint it still waits for.
func (p *plan) release(id anchor.ID, k []byte, r *anchor.Anchor, root *anchor.ID) error {
	awaited, err := p.awaited(r)
	if err != nil || awaited == id {
		return err // still waiting for id (a later life of it)
	}
	p.ixDel = append(p.ixDel, delKey{k: k})
	if !awaited.IsZero() {
		return p.putHeld(r, awaited, root)
	}
	return p.mergeAs(root, r)
}

// mergeAs merges held edge r as the root that sent it (nil: as the
// releasing merge's root, for an edge an older build held).
func (p *plan) mergeAs(root *anchor.ID, r *anchor.Anchor) error {
	if root == nil {
		return p.merge(r)
	}
	releasing := p.root
	p.root = *root
	defer func() { p.root = releasing }()
	return p.merge(r)
}

// awaited returns the endpoint held edge r still waits for, or zero if it
// can be merged now: it exists here (a tombstone arrived meanwhile) or
// both its endpoints do, in the lives it belongs to or later ones.
func (p *plan) awaited(r *anchor.Anchor) (anchor.ID, error) {
	if s, err := p.get(r.ID); err != nil || s != nil {
		return anchor.ID{}, err
	}
	for _, end := range []anchor.ID{r.Source, r.Target} {
		n, err := p.get(end)
		if err != nil {
			return anchor.ID{}, err
		}
		if n == nil {
			return end, nil
		}
		if n.Kind != anchor.KindNode {
			return anchor.ID{}, nil // no endpoint: the merge refuses r
		}
		if wait, _ := endpointLife(r, n); wait {
			return end, nil // the endpoint's life r belongs to is not here yet
		}
	}
	return anchor.ID{}, nil
}

// moveHeldList moves the edges of an older build's HeldKey list to held
// entries (applying those that can be applied now) and empties the list.
func (p *plan) moveHeldList() error {
	raw, err := p.tx.Meta(HeldKey)
	if err != nil || len(raw) == 0 {
		return err
	}
	var recs []heldRec
	if err := msgpack.Unmarshal(raw, &recs); err != nil {
		return fmt.Errorf("%w: %s: %v", anchor.ErrCorrupt, HeldKey, err)
	}
	for _, h := range recs {
		r, err := anchor.Unmarshal(h.ID, h.Rec)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", anchor.ErrCorrupt, HeldKey, err)
		}
		awaited, err := p.awaited(r)
		if err != nil {
			return err
		}
		if awaited.IsZero() {
			err = p.mergeAs(h.Root, r)
		} else {
			err = p.putHeld(r, awaited, h.Root)
		}
		if err != nil {
			return err
		}
	}
	p.putMeta(HeldKey, []byte{})
	return nil
}
