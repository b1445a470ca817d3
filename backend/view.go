package backend

import (
	"fmt"

	"github.com/anchorage-db/anchorage/anchor"
	"github.com/anchorage-db/anchorage/delta"
)

// view is the View the engine hands out: the driver's Snapshot, with
// adjacency read from the edge entries of the secondary index.
type view struct {
	Snapshot
	e *Engine
}

func (v *view) Adjacent(node anchor.ID, fn func(anchor.Adj) error) error {
	if err := v.built(); err != nil {
		return &anchor.Error{Op: "adjacency", ID: node, Err: err}
	}
	return delta.Adjacent(v.Snapshot, node, fn)
}

// Index reads the driver's entries once the store has them (built): a
// listing, lookup or page of an unindexed store fails rather than come
// back empty.
func (v *view) Index(prefix, after []byte, fn func(k, v []byte) error) error {
	if err := v.built(); err != nil {
		return err
	}
	return v.Snapshot.Index(prefix, after, fn)
}

func (v *view) Adjacency(fn func(anchor.Adj) error) error {
	if err := v.built(); err != nil {
		return err
	}
	return delta.Adjacency(v.Snapshot, fn)
}

// built fails while the store has no index entries (a store kept by a
// build before them, opened read-only): its edges are then nowhere to be
// listed, and an empty list would be a wrong answer. The error wraps
// anchor.ErrVersion (the store's format is older than listings need) and
// anchor.ErrNoIndex. Every read-write open builds the entries
// (Engine.ensureIndexed).
func (v *view) built() error {
	if v.e.indexed.Load() {
		return nil
	}
	b, err := v.MetaValue(delta.IndexedKey)
	switch {
	case err != nil:
		return err
	case b == nil:
		return fmt.Errorf("%w (%w): the store's edge index is not built yet; one read-write open builds it", anchor.ErrVersion, anchor.ErrNoIndex)
	}
	v.e.indexed.Store(true)
	return nil
}

// CheckStorage runs the driver's own checks (StorageChecker) for Verify,
// when the driver's Snapshot has them.
func (v *view) CheckStorage(report func(kind string, id anchor.ID, detail string)) error {
	if sc, ok := v.Snapshot.(StorageChecker); ok {
		return sc.CheckStorage(report)
	}
	return nil
}
