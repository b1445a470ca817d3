// Package delta holds the single write path of Anchorage.
//
// # Batches
//
// A walker's changes are expressed as per-anchor Changes (created, deleted,
// fields set, access changed), computed by Diff from the snapshot the walker
// loaded and its current copy, and grouped into a Batch. Both immediate
// saves (tiered.Memory.Put) and commits (tiered.Memory.Commit) produce a
// Batch; nothing else writes.
//
// # Apply
//
// Apply runs inside one backend write transaction (a Tx). It re-reads the
// stored state, checks access against it with the committing root, checks
// integrity, and writes only what the walker changed, stamped with one new
// HLC. A batch that fails a check writes nothing and returns a typed error.
// See DESIGN.md's merge rules; Apply's doc comment lists them in order.
//
// # Concurrency
//
// Apply is a plain function over a Tx; the backend serialises write
// transactions. Diff is pure.
package delta
