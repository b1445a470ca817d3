package delta

import "github.com/anchorage-db/anchorage/anchor"

// Reader reads committed (or, inside a Tx, the transaction's) state.
//
// Implementations are used by one goroutine at a time.
type Reader interface {
	// Anchor returns the stored anchor, tombstones included. A missing
	// anchor yields an error wrapping anchor.ErrNotFound; a record that
	// does not decode yields one wrapping anchor.ErrCorrupt. The caller may
	// modify the returned value.
	Anchor(id anchor.ID) (*anchor.Anchor, error)
	// Adjacent calls fn for every adjacency row of node, in edge-ID order.
	Adjacent(node anchor.ID, fn func(anchor.Adj) error) error
}

// Tx is what a write transaction offers Apply: reads of the transaction's
// own state and the writes Apply plans. Everything written through a Tx
// lands atomically when the engine commits it, or not at all.
//
// A Tx is used by one goroutine at a time.
type Tx interface {
	Reader
	// PutAnchor stores a (header and fields), replacing any stored record.
	PutAnchor(a *anchor.Anchor) error
	// PutAdj stores one adjacency row, keyed by (row.Node, row.Edge).
	PutAdj(row anchor.Adj) error
	// DeleteAdj removes the row keyed by (node, edge), if present.
	DeleteAdj(node, edge anchor.ID) error
	// Logged records that id changed: it gets the next store-wide sequence
	// number and its previous change-log entry, if any, is removed.
	Logged(id anchor.ID) error
	// Meta returns the small value stored under key (import cursors), or
	// nil.
	Meta(key string) ([]byte, error)
	// PutMeta stores value under key in this transaction.
	PutMeta(key string, value []byte) error
}
