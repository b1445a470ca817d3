// Package backend is Anchorage's durable tier: the Store every backend
// returns, the Engine that implements it over a backend's Driver, the
// read-only View, and Verify, the integrity checker.
//
// # Engine and drivers
//
// The engine owns every rule of the write path, once for all backends: it
// validates a write, group-commits concurrent writes into one transaction,
// runs delta.Apply (the only code that writes anchors) for each, stamps
// them with the store's hybrid logical clock, retries lock conflicts while
// the caller's context allows, and answers each caller with its own
// outcome. A Driver only stores: it begins a write transaction (reads,
// puts, deletes, the change log, small key/values, the persisted clock,
// commit, rollback), takes a read snapshot, reports its size and closes.
// Package bolt, sqlite and postgres each provide one; each backend's Open
// returns the engine over it, and OpenDriver the bare driver, for tests
// that wrap it to inject faults.
//
// # Contract
//
// A Store is safe for concurrent use. Apply writes a *delta.Batch (a
// walker's changes) or a *delta.Merge (replicated state) atomically; nil
// means it is durable, an error means none of it landed
// (anchor.ErrOutcomeUnknown is the one honest exception). What the
// caller's context means before, while and after a write is queued is
// documented on Engine. View gives a consistent snapshot. Close is
// idempotent.
//
// # Tombstones, purge and compaction
//
// A delete leaves a tombstone and a change-log entry, which replication
// needs to carry the delete. Engine.Purge removes the tombstones deleted
// before a horizon (optionally only those every replica has imported,
// PurgeOptions.Replicated), with their log entries, in chunked write
// transactions that take the engine's one write slot in turn with the
// group commits; the store records its Horizon, by which replication
// refuses a replica that missed a purged delete. Engine.Compact gives the
// freed space back where the driver can while open (SQLite, PostgreSQL);
// bolt compacts a closed file (bolt.Compact).
//
// # Conformance
//
// Package backendtest holds the suites every backend runs unchanged:
// conformance (Run), faults (RunFaults), purge (RunPurge) and limits
// (RunLimits); its harness runs Verify after every test. Package
// backendtest/backends is the registry that runs them all on bolt, sqlite
// and PostgreSQL.
package backend
