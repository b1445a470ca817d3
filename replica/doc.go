// Package replica moves changes between Anchorage stores: Export writes the
// changes since a cursor to a file, Import merges such a file into a store,
// Sync streams one store's changes into another, and Follow keeps doing so.
//
// # Merge rules
//
// Import goes through the single write path: each chunk becomes one
// delta.Merge, applied in one transaction. Fields and access entries merge
// one by one, the greater (HLC stamp, origin replica ID, value) winning;
// within one life of an anchor deletion wins over liveness (a restore
// starts a later life, see below) and a node's tombstone takes its edges
// with it; a record's Updated stamp is the latest any replica gave it, so
// converged replicas hold byte-identical records. An edge whose endpoint
// has not arrived yet is held aside (delta.CountHeld) and applied by the
// import that brings the endpoint. Merging is idempotent: re-importing the
// same data changes nothing and logs nothing. Counters (inserted, updated,
// skipped, conflicts, refused, held) come back per kind in
// ImportResult.Stats.
//
// # Who an import acts as
//
// With ImportOptions.As set, every record is checked as that root's
// walker would be: a new anchor must be owned by it, a new edge needs
// Connect on both endpoints, changing fields, deleting or restoring needs
// Write, changing access needs ownership. Records that fail are refused
// for good and listed. With As zero the import is trusted (the system root): use it
// between stores one owner controls. The CLI (anchorage import, sync) has
// no such default: it needs --as ROOT or an explicit --trust.
//
// # Write-once archetypes
//
// DeclareWriteOnce makes a type write-once in one store: its anchors keep
// the fields they were created with; a walker's edit fails with
// delta.ErrWriteOnce and an imported edit is counted as skipped.
//
// # Clocks
//
// Every store stamps with a hybrid logical clock that never goes back: a
// store whose wall clock once ran an hour ahead keeps stamping after its
// own earlier writes (max(wall, last+1)), also after a reopen, until its
// wall clock passes them; from then on it stamps wall time again. The lead
// is bounded by the glitch and shrinks as time passes.
//
// A receiver refuses, for now, every record stamped more than
// ImportOptions.MaxSkew past its own clock: a far-future stamp would
// otherwise beat every correct write to that field for as long as it
// leads. Such a record is not lost: the import cursor stays before its
// source sequence (each record carries it), a re-import of the same file
// applies the chunks that held refusals again, and a later Sync re-sends
// it, so it arrives once the receiver's clock allows (or with a larger
// MaxSkew). ImportResult.Later counts these records and ImportResult.Ahead
// says how far the source's clock leads. Accepted stamps move the
// receiver's clock forward by at most MaxSkew past its wall time, so a
// ring of correct clocks never drifts further than that.
//
// # Restore (undelete)
//
// tiered.Memory.Restore brings a deleted node, walker or object back under
// its ID (with Write on the tombstone), with the fields and access it had.
// The restore is stamped, and its stamp starts a new life of the anchor
// (anchor.Anchor.Restored): on every replica the later life wins whole,
// so a restore newer than the tombstone makes the anchor live again
// everywhere, an older tombstone arriving afterwards changes nothing, and
// a delete made after the restore wins over it. Within one life the rules
// above hold.
//
// Edges are not restored. The edges a node's deletion took stay deleted
// unless re-created (Connect makes new edges). An edge belongs to the
// lives of its endpoints it was created in, so an edge of an earlier life
// that arrives after the restore (made on a replica that had not seen the
// delete) is stored as a tombstone, and an edge of the new life that
// arrives before the restore is held until the restore does.
//
// # File format
//
// A versioned header, then chunks, then a trailer, each section with its
// own CRC-32C. Damage is detected at the first bad section;
// a section's claimed length is never allocated before its bytes arrive.
// Chunks follow the source's change log and name the greatest sequence
// they cover.
//
// # Crash safety and resumption
//
// Each chunk is applied in one transaction together with the import
// cursor (backend.MetaView), which advances chunk by chunk: an import or
// Sync interrupted by a crash, SIGKILL or a dropped link resumes after its
// last applied chunk, without duplicates. Sync also notices a source
// restored from a backup (its change log no longer matches the cursor)
// and sends everything again, and it does not echo: records that came
// from the destination and that it holds already stay home.
//
// # Identity
//
// A store copied with cp keeps its store and replica IDs, so it cannot
// sync with its original (Import and Sync refuse it, by name). Reidentify
// moves such a copy into a new, empty store with an identity of its own,
// which can.
//
// # Concurrency
//
// Export reads one consistent snapshot; Import, Sync and Follow may run
// while walkers write to either store.
package replica
