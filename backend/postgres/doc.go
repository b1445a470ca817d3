// Package postgres is Anchorage's backend for many processes on many
// machines, on PostgreSQL through github.com/jackc/pgx/v5.
//
// # Layout
//
// One schema per store (Options.Schema) with four tables: meta (one row:
// magic, layout version, store and replica IDs, the HLC and the change-log
// sequence), anchors (ID -> anchor record), adj (PRIMARY KEY (node, edge):
// adding or removing an edge is a key-level insert or delete) and log (one
// entry per anchor at the sequence of its latest write).
//
// # Concurrency
//
// Store is safe for concurrent use, and any number of Stores, in any number
// of processes and machines, may open the same schema. Within a process,
// concurrent Apply calls are group-committed into one transaction. Across
// processes, every write transaction first locks the meta row (SELECT ...
// FOR UPDATE): writers are ordered store-wide, the HLC and the sequence they
// read and advance there are shared, so stamps and sequence numbers follow
// commit order on every machine. Serialisation failures and deadlocks are
// retried with jittered backoff; delta.Apply re-reads inside the
// transaction, so a retry is safe. Reads are REPEATABLE READ read-only
// transactions and never block writers.
//
// # Errors
//
// A connection lost while COMMIT is in flight yields an error wrapping
// anchor.ErrOutcomeUnknown: the batch may or may not have landed. Every
// other error means nothing of the batch landed.
//
// # Tests
//
// pgtest starts a throwaway server from the local PostgreSQL binaries on a
// Unix socket; the tests skip, saying why, where there are none.
package postgres
