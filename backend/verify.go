package backend

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// Problem is one inconsistency found by Verify.
type Problem struct {
	Kind   string    // short machine-readable class, e.g. "adjacency-without-edge"
	ID     anchor.ID // the anchor (or edge) concerned
	Detail string
}

func (p Problem) String() string { return fmt.Sprintf("%s %s: %s", p.Kind, p.ID, p.Detail) }

// Report is the result of Verify.
type Report struct {
	Anchors    int // records scanned, tombstones included
	Tombstones int
	Edges      int // live edges
	Adjacency  int // adjacency rows
	LogEntries int
	Problems   []Problem
}

// Clean reports whether Verify found nothing wrong.
func (r *Report) Clean() bool { return len(r.Problems) == 0 }

// Problem classes reported by Verify.
const (
	ProblemCorrupt          = "corrupt-record"
	ProblemAdjNoEdge        = "adjacency-without-edge"
	ProblemAdjMismatch      = "adjacency-mismatch"
	ProblemEdgeNoAdj        = "edge-without-adjacency"
	ProblemEdgeDangling     = "edge-to-missing-node"
	ProblemEdgeToDeleted    = "edge-to-deleted-node"
	ProblemEdgeEndpointKind = "edge-endpoint-not-node"
	ProblemEdgeOldLife      = "edge-of-an-earlier-life" // a live edge whose endpoint was restored after it
	ProblemLogDangling      = "log-entry-without-anchor"
	ProblemLogDuplicate     = "log-duplicate-entry"
	ProblemLogMissing       = "anchor-without-log-entry"
	ProblemLogAhead         = "log-sequence-beyond-meta"
	ProblemIndexMismatch    = "index-mismatch"
	ProblemSecondaryIndex   = "secondary-index"          // delta's entries disagree with the anchors
	ProblemValueOrphan      = "out-of-line-value-orphan" // a stored field value no record refers to
)

// StorageChecker is implemented by a View whose backend keeps rows or
// indexes that Anchors, Adjacency and Changes do not show: bolt's log
// index (ID -> sequence), SQLite's field rows whose anchor row is missing,
// its kv and meta rows and its own B-tree indexes. Verify calls
// CheckStorage once, after its own checks, and adds every problem
// reported (kind is one of the Problem constants); an error means the check
// could not finish, and is reported as a corrupt-record problem.
type StorageChecker interface {
	CheckStorage(report func(kind string, id anchor.ID, detail string)) error
}

// Verify walks the whole store in one consistent view and reports every
// inconsistency: corrupt records, adjacency rows (the edge entries of the
// secondary index) without a live edge (or disagreeing with it), live
// edges without both adjacency rows, edges to
// missing, deleted or non-node endpoints (or to a later life of a restored
// endpoint than the edge's), change-log entries pointing
// nowhere or duplicated, anchors missing from the log, and the backend's
// own rows and indexes when its View implements StorageChecker. It returns an error
// only when the store could not be read at all.
func Verify(ctx context.Context, s Store) (*Report, error) {
	r := &Report{}
	err := s.View(ctx, func(v View) error {
		r.verify(v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(r.Problems, func(i, j int) bool { return r.Problems[i].Kind < r.Problems[j].Kind })
	return r, nil
}

func (r *Report) add(kind string, id anchor.ID, format string, args ...any) {
	r.Problems = append(r.Problems, Problem{Kind: kind, ID: id, Detail: fmt.Sprintf(format, args...)})
}

func (r *Report) verify(v View) {
	type rec struct {
		kind       anchor.Kind
		live       bool
		src, dst   anchor.ID
		undirected bool
		typ        string
		restored   anchor.HLC    // the life a node is in
		lives      [2]anchor.HLC // an edge's endpoints' lives (source, target)
	}
	recs := make(map[anchor.ID]rec)
	corrupt := make(map[anchor.ID]bool)
	ic := r.indexCheck(v)
	scanErr := v.Anchors(func(id anchor.ID, a *anchor.Anchor, err error) error {
		r.Anchors++
		if err != nil {
			corrupt[id] = true
			r.add(ProblemCorrupt, id, "%v", err)
			return nil
		}
		recs[id] = rec{a.Kind, a.Live(), a.Source, a.Target, a.Undirected, a.Type, a.Restored, [2]anchor.HLC{a.SourceEpoch, a.TargetEpoch}}
		if ic != nil {
			ic.Add(a)
		}
		if !a.Live() {
			r.Tombstones++
		} else if a.Kind == anchor.KindEdge {
			r.Edges++
		}
		return nil
	})
	if scanErr != nil {
		r.add(ProblemCorrupt, anchor.ID{}, "anchor scan stopped: %v", scanErr)
	}

	// Every adjacency row must match a live edge; collect which rows exist.
	type key struct{ node, edge anchor.ID }
	rows := make(map[key]bool)
	adjErr := v.Adjacency(func(a anchor.Adj) error {
		r.Adjacency++
		rows[key{a.Node, a.Edge}] = true
		e, ok := recs[a.Edge]
		switch {
		case corrupt[a.Edge]:
		case !ok:
			r.add(ProblemAdjNoEdge, a.Edge, "node %s holds a row for an edge that does not exist", a.Node)
		case !e.live:
			r.add(ProblemAdjNoEdge, a.Edge, "node %s holds a row for a deleted edge", a.Node)
		case e.kind != anchor.KindEdge:
			r.add(ProblemAdjNoEdge, a.Edge, "node %s holds a row for a %s", a.Node, e.kind)
		default:
			want := (&anchor.Anchor{ID: a.Edge, Source: e.src, Target: e.dst, Undirected: e.undirected, Type: e.typ}).Adjacency()
			found := false
			for _, w := range want {
				if w == a {
					found = true
				}
			}
			if !found {
				r.add(ProblemAdjMismatch, a.Edge, "row on node %s (peer %s, %s, %q) disagrees with the edge", a.Node, a.Peer, a.Dir, a.Type)
			}
		}
		return nil
	})
	unbuilt := errors.Is(adjErr, anchor.ErrNoIndex) // an old store opened read-only: no rows to check
	if adjErr != nil && !unbuilt {
		r.add(ProblemCorrupt, anchor.ID{}, "adjacency scan stopped: %v", adjErr)
	}

	for id, e := range recs {
		if e.kind != anchor.KindEdge || !e.live {
			continue
		}
		for i, end := range []anchor.ID{e.src, e.dst} {
			n, ok := recs[end]
			switch {
			case corrupt[end]:
			case !ok:
				r.add(ProblemEdgeDangling, id, "endpoint %s does not exist", end)
			case !n.live:
				r.add(ProblemEdgeToDeleted, id, "endpoint %s is deleted", end)
			case n.kind != anchor.KindNode:
				r.add(ProblemEdgeEndpointKind, id, "endpoint %s is a %s", end, n.kind)
			case n.restored != e.lives[i]:
				r.add(ProblemEdgeOldLife, id, "endpoint %s is in its life restored at %s, the edge in the one of %s", end, n.restored, e.lives[i])
			}
			if !unbuilt && !rows[key{end, id}] {
				r.add(ProblemEdgeNoAdj, id, "node %s has no adjacency row for it", end)
			}
		}
	}

	meta := v.Meta()
	logged := make(map[anchor.ID]uint64)
	logErr := v.Changes(0, func(seq uint64, id anchor.ID) error {
		r.LogEntries++
		if prev, dup := logged[id]; dup {
			r.add(ProblemLogDuplicate, id, "logged at sequences %d and %d", prev, seq)
		}
		logged[id] = seq
		if _, ok := recs[id]; !ok && !corrupt[id] {
			r.add(ProblemLogDangling, id, "sequence %d names no stored anchor", seq)
		}
		if seq > meta.Seq {
			r.add(ProblemLogAhead, id, "sequence %d beyond the store's %d", seq, meta.Seq)
		}
		return nil
	})
	if logErr != nil {
		r.add(ProblemCorrupt, anchor.ID{}, "change-log scan stopped: %v", logErr)
	}
	for id := range recs {
		if _, ok := logged[id]; !ok {
			r.add(ProblemLogMissing, id, "stored but never logged")
		}
	}
	if ic != nil && len(corrupt) == 0 && scanErr == nil {
		err := ic.Compare(v, func(k []byte, detail string) {
			r.add(ProblemSecondaryIndex, anchor.ID{}, "entry %x: %s", k, detail)
		})
		if err != nil {
			r.add(ProblemCorrupt, anchor.ID{}, "index scan stopped: %v", err)
		}
	}
	if sc, ok := v.(StorageChecker); ok {
		err := sc.CheckStorage(func(kind string, id anchor.ID, detail string) { r.add(kind, id, "%s", detail) })
		if err != nil {
			r.add(ProblemCorrupt, anchor.ID{}, "storage check stopped: %v", err)
		}
	}
}

// indexCheck starts the check of delta's secondary indexes, or returns nil
// when the store has not built them yet (an old store opened read-only).
func (r *Report) indexCheck(v View) *delta.IndexCheck {
	built, err := v.MetaValue(delta.IndexedKey)
	if err == nil && built == nil {
		return nil
	}
	ix, err2 := delta.Declared(v)
	if err = errors.Join(err, err2); err != nil {
		r.add(ProblemCorrupt, anchor.ID{}, "index declaration: %v", err)
		return nil
	}
	return delta.NewIndexCheck(ix)
}
