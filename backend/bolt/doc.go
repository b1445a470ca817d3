// Package bolt is Anchorage's embedded default backend, on go.etcd.io/bbolt.
//
// # Layout
//
// One file with six buckets: anchors (ID -> anchor record), log
// (sequence -> ID) and logidx (ID -> sequence), holding one change-log
// entry per anchor at its latest write, meta (magic, schema version, store
// ID, replica ID, HLC), index (delta's secondary-index entries, whose edge
// entries are also the store's adjacency: a node's edges are the keys
// under its prefix, so adding an edge is a few key inserts, O(log n)
// however many edges the node has) and values (ID|field name -> a field
// value of 64 KiB or more, kept out of the anchor's record, which holds
// its size, CRC-32C, stamp and origin; a write that leaves the value alone
// neither reads nor rewrites it). Stores before schema 5 also kept an adj
// bucket of adjacency rows; a read-write Open drops it, and the engine
// builds the index entries of a store that has none.
//
// # Damaged files
//
// A damaged file never crashes the process or panics a caller: Open,
// every read, Verify and every write give an error wrapping
// anchor.ErrCorrupt that names what it can (page, anchor). Open checks
// both meta pages (a damaged one is refused: bbolt would silently roll
// back to the older) and walks every reachable page before bbolt maps the
// file (page ids, types, bounds, key order, depth), so bbolt never walks
// a page it cannot make sense of, neither in the caller's goroutine nor in
// the free-page scan it runs in its own. The walk also checks every
// secondary-index entry's checksum: a store holding a damaged entry opens,
// but every scan of part of the index (a node's edge list, a lookup) is
// refused with ErrCorrupt naming the entry (a damaged key may have moved
// an entry out of its node's range), while Verify, which scans it whole,
// lists it. The walk reads each page once: Open costs one pass over the
// file (bbolt's free-page scan already cost one). Every call into bbolt
// also runs under a recover with faults turned into panics; a write
// transaction that panicked is rolled back and stops later writes until
// the store is reopened. Anchor records carry a CRC-32C, index entries
// too, and the change log and its index are checked against each other on
// every read of the log. A read-write Open of a store whose records do not
// all decode, and which has no index entries yet, fails with ErrCorrupt
// rather than build an index that would leave the damaged edges out. Not
// covered: bytes of the meta bucket (store and replica IDs, the
// clock) and an anchor record's version byte (ErrVersion, not
// ErrCorrupt).
//
// # Concurrency
//
// One process holds the file; a second Open waits Options.Timeout and fails
// with anchor.ErrLocked. Within the process, Store is safe for concurrent
// use: concurrent Apply calls are group-committed (one bbolt transaction,
// one fsync, for many walkers), and reads run in bbolt read transactions
// that never block the writer.
//
// # Durability
//
// Every commit is fsynced unless Options.NoSync is set. The HLC is persisted
// in the same transaction, so it never goes backwards across restarts.
package bolt
