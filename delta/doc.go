// Package delta holds the single write path of Anchorage.
//
// # Batches
//
// A walker's changes are expressed as per-anchor Changes (created, deleted,
// fields set, access entries changed), computed by Diff from the snapshot
// the walker loaded and its current copy, and grouped into a Batch. Both
// immediate saves (tiered.Memory.Put) and commits (tiered.Memory.Commit)
// produce a Batch; so does a restore (tiered.Memory.Restore: a Change with
// Restore set; Change documents its rules). Replication produces a Merge: other replicas' states,
// merged by last-writer-wins per field and per access entry. Batch and
// Merge are the two kinds of Write; nothing else writes.
//
// # Apply
//
// Apply runs inside one backend write transaction (a Tx); the engine in
// package backend is its only caller. It re-reads the stored state, checks
// access against it with the committing root, checks integrity, and writes
// only what the walker changed, stamped with the HLC the engine hands it in
// Env. A write that fails a check writes nothing and returns a typed error.
// Apply's doc comment lists the steps; Batch, Change and Merge document the
// merge rules.
//
// # Indexes
//
// Apply also keeps the store's secondary indexes, in the same transaction:
// anchors by archetype, a node's edges by direction and type in creation
// order, and the field, unique and create-once indexes a store declares
// (Declare, Indexes). Every entry is a function of one anchor, so Apply
// writes only the entries that changed, and IndexCheck (used by
// backend.Verify) rebuilds them all to compare. Edges, OfType and
// Indexes.Lookup read them; Batch.Once and ReadCheck use them to make
// find-or-create and find-then-write exact.
//
// # Concurrency
//
// Apply is a plain function over a Tx; the engine runs one write
// transaction at a time per store, and the driver makes transactions of
// several processes safe (one writer at a time, or locks: Tx.Lock and
// PutIndex on PostgreSQL). Diff is pure.
package delta
