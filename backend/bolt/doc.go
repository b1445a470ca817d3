// Package bolt is Anchorage's embedded default backend, on go.etcd.io/bbolt.
//
// # Layout
//
// One file with five buckets: anchors (ID -> anchor record), adj
// (node|edge -> peer|direction|type: adding an edge is a key insert, O(log n)
// however many edges the node has), log (sequence -> ID) and logidx
// (ID -> sequence), holding one change-log entry per anchor at its latest
// write, and meta (magic, schema version, store ID, replica ID, HLC).
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
