// Package backend defines the durable tier of Anchorage: the Store
// interface every backend implements, the read-only View, Verify (the
// integrity checker), and GroupCommitter, which backends use to share one
// durable transaction among concurrent Apply calls.
//
// # Contract
//
// A Store is safe for concurrent use. Apply writes a delta.Batch atomically
// through delta.Apply inside one write transaction; nil means the batch is
// durable, an error means none of it landed (anchor.ErrOutcomeUnknown is the
// one honest exception). View gives a consistent snapshot. Close is
// idempotent.
//
// # Conformance
//
// backendtest.Run is the suite every backend runs unchanged; its harness
// runs Verify after every test.
//
// # Optional interfaces
//
// Extras are small interfaces found by type assertion, as database/sql/driver
// does: Sizer reports a store's size on disk.
package backend
