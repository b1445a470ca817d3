// Package replica moves changes between Anchorage stores: Export writes the
// changes since a cursor to a file, Import merges such a file into a store,
// and Sync streams one store's changes into another.
//
// # Merge rules
//
// Import goes through the single write path: each chunk becomes one
// delta.Batch of Remote changes, applied by delta.Apply in one transaction.
// Fields merge one by one, the greater (HLC stamp, origin replica ID)
// winning; deletion wins over liveness and a node's tombstone takes its
// edges with it; stamps further in the future than ImportOptions.MaxSkew
// are refused and reported. Merging is idempotent: re-importing the same
// data changes nothing and logs nothing. Counters (inserted, updated,
// skipped, conflicts, refused) come back per kind in ImportResult.Stats.
//
// # File format
//
// A versioned header, then chunks, then a trailer, each section with its
// own CRC-32C (see format.go). Damage is detected at the first bad section.
//
// # Crash safety
//
// Each chunk is applied in one transaction together with the import
// cursor (backend.MetaView), so an import interrupted by a crash or a cut
// file resumes, given the same file, after its last applied chunk, without
// duplicates; Sync starts from the cursor's sequence number.
//
// # Concurrency
//
// Export reads one consistent snapshot; Import and Sync may run while
// walkers write to either store.
package replica
