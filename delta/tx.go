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
	// Index calls fn, in key order, for every secondary-index entry whose
	// key starts with prefix and sorts after after (nil: from the first).
	// k and v are valid only during the call. The entries are Apply's
	// (see Indexes); their values carry a checksum Apply checks.
	Index(prefix, after []byte, fn func(k, v []byte) error) error
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
	// (Reader.Index, inside a Tx: a read of a node's whole edge prefix is
	// the read of its adjacency a node's delete cascades over. A driver
	// whose transactions run side by side must keep the node's edges from
	// changing from that read until the transaction ends, as Lock does;
	// PostgreSQL takes the node's exclusive lock before it reads.)
	//
	// PutIndex stores the index entry k -> v. Apply puts only keys it has
	// just read as absent (or deleted in this transaction), so a driver
	// whose transactions run side by side (PostgreSQL) must fail the put
	// with an error wrapping backend.ErrRetry when another transaction
	// stored k meanwhile, never overwrite it: that is how a unique value
	// or a create-once edge stays unique across processes.
	PutIndex(k, v []byte) error
	// DeleteIndex removes the index entry k, if present.
	DeleteIndex(k []byte) error
	// Lock keeps every other transaction from changing anchor id, or
	// adding or removing its edges, until this one ends (read validation
	// of a listing). A driver whose write transactions run one at a time
	// does nothing; one whose transactions run side by side (PostgreSQL)
	// takes id's exclusive lock, failing with an error wrapping
	// backend.ErrRetry when another transaction holds it.
	Lock(id anchor.ID) error
	// Logged records that id changed: it gets the next store-wide sequence
	// number and its previous change-log entry, if any, is removed.
	Logged(id anchor.ID) error
	// Meta returns the small value stored under key (import cursors), or
	// nil.
	Meta(key string) ([]byte, error)
	// PutMeta stores value under key in this transaction.
	PutMeta(key string, value []byte) error
}

// SharedReader may be implemented by a Tx that keeps the anchors it has
// read (a group's read cache). SharedAnchor is Reader.Anchor without the
// copy: it returns the reader's own value, which the caller must not
// modify and which stays as it is while the caller holds it (a write of
// the anchor replaces the reader's value, it does not change it). Apply
// then copies only what it may change, and works out the index entries of
// an anchor as stored only if it writes the anchor.
type SharedReader interface {
	SharedAnchor(id anchor.ID) (*anchor.Anchor, error)
}
