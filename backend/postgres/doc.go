// Package postgres is Anchorage's backend for many processes on many
// machines, on PostgreSQL through github.com/jackc/pgx/v5.
//
// # Layout
//
// One schema per store (Options.Schema) with these tables: meta (one row:
// magic, layout version, store and replica IDs, the HLC and the change-log
// sequence), anchors (ID -> anchor record), log (one entry per anchor at
// the sequence of its latest write), kv (small named values), idx
// (delta's secondary-index entries, k -> v) and vals: field values of 64
// KiB or more, kept out of the anchor record, which holds their size,
// CRC-32C, stamp and origin. A node's edges are its edge entries in idx
// (one key per end of an edge: adding or removing an edge is a key-level
// insert or delete); there is no other adjacency.
//
// Layouts: 1 had anchors, adj (the adjacency: PRIMARY KEY (node, edge)),
// log, kv and meta; 2 added idx; 3 added vals; 4 (this build) dropped adj,
// whose rows the edge entries duplicated. A read-write open upgrades an
// older layout in place, step by step, in one transaction under an
// advisory lock on the schema's name, so that two processes opening at
// once upgrade it once; a read-only open reads layouts 2 and 3 as they
// are; a newer layout is anchor.ErrVersion.
//
// # Concurrency
//
// Store is safe for concurrent use, and any number of Stores, in any number
// of processes and machines, may open the same schema. Within a process,
// concurrent Apply calls are group-committed into one transaction. Across
// processes there is no store-wide lock:
//
//   - A write transaction (READ COMMITTED) takes a shared advisory lock on
//     every anchor it reads, then reads it in a statement of its own, and
//     the exclusive lock, without waiting, on every anchor it writes; a
//     lock held elsewhere is backend.ErrRetry, and the engine runs the
//     transaction again. delta.Apply reads everything it checks or merges,
//     so the per-field merge sees the latest committed state, writers that
//     only check a common anchor (edges added to one root) run side by
//     side, and writers on disjoint anchors never wait for each other.
//   - A node's delete reads its edges (a cascade) after taking the node's
//     exclusive lock, in the round trip of the read. A connect reads both
//     endpoints under their shared locks (and writes neither): one running
//     beside the delete fails it (the delete runs again and sees the
//     edge), one that committed first is seen, and one that comes after
//     waits for the delete to end and finds a tombstone. So no edge is
//     left on a deleted node.
//   - The clock: the meta row keeps the greatest stamp committed; a write
//     transaction reads it at begin (the engine's clock observes it) and
//     runs again if it reads an anchor stamped later than that (committed
//     after it began). So every stamp exceeds the stamps of the anchors its
//     write read: stamps grow along each anchor's history, and follow
//     commit order between writes that touch a common anchor or where one
//     began after the other committed. Writes on disjoint anchors in
//     different processes are ordered by their hybrid clocks only, and two
//     of them may carry the same stamp.
//   - The change log is numbered by the last statement before COMMIT, which
//     adds the transaction's entries to the counter in the meta row and
//     holds that row until the commit ends. Numbers are taken after every
//     smaller number committed (PostgreSQL makes a commit visible before it
//     releases its locks) or rolled back with its counter update: they are
//     dense and follow commit order, so a snapshot that sees the counter at
//     n sees every entry up to n, and later commits get numbers above n. A
//     reader that reads up to the counter of its snapshot and moves its
//     cursor there never skips or repeats a committed change. Writers meet
//     only there, for the length of a commit.
//
// Deadlocks and serialisation failures are retried with jittered backoff;
// delta.Apply re-reads inside the transaction, so a retry is safe. Reads
// are REPEATABLE READ read-only transactions and never block writers.
//
// # Big batches and lock escalation
//
// Every lock of every open transaction of the server lives in one shared
// table of max_locks_per_transaction × (max_connections +
// max_prepared_transactions) entries (6,400 with the defaults). A batch
// within delta.Limits (10^6 changes; a node's cascade delete is one
// change, whatever its edges) may touch far more anchors than that, so a
// write transaction does not lock anchors past Options.EscalateLocks
// (default 512):
//
//   - Every write transaction takes the store lock, a store-wide advisory
//     lock, in shared mode at Begin (in Begin's round trip): one lock per
//     transaction, compatible with every other writer's.
//   - A transaction that would hold more than EscalateLocks anchor locks
//     takes the store lock exclusively instead and takes no more anchor
//     locks: it waits for the write transactions running beside it to end,
//     and those that begin after it wait in Begin until it commits or
//     rolls back. Nothing it reads can change meanwhile. It escalates
//     before taking the locks it would need where it can tell: at Prefetch
//     (a group's reads) and at the read of a node's edges (its edge
//     entries, counted before the node's exclusive lock). Until then it
//     holds only shared locks, on
//     which nobody waits, so its wait cannot close a cycle; one that grows
//     past the bound later escalates there, and a cycle through its
//     exclusive locks is a deadlock PostgreSQL breaks and the engine
//     retries.
//   - Other writers are delayed, never failed, by a big transaction: each
//     wait in Begin ends after LockTimeout as backend.ErrRetry, and the
//     engine begins again while the caller's context allows (a caller
//     whose context ends first gets a *backend.BusyError; nothing of its
//     write landed). Writers of the same process wait in the engine's
//     queue; a group that fails is rerun one write per transaction.
//   - There is no fixed timeout on a transaction: a big batch runs for as
//     long as it takes, under its caller's context as the engine's
//     contract has it (once begun, a transaction runs to its end so that
//     its answer is the truth).
//
// Writes are buffered per key between round trips and sent as array
// statements (INSERT ... SELECT FROM unnest(...), DELETE ... USING
// unnest(...)) of up to 5,000 rows or 4 MiB: a cascade of 2.5·10^5 edges
// (its edges' records and their index entries) is a few hundred
// statements in one pipelined round trip, not 10^6. A node's edge entries
// are read in chunks growing fourfold from 256 to 65,536 entries (five
// statements for 5·10^4 edges), and their records with one statement
// more.
// Deletes by key run as nested loops of primary-key probes (a transaction
// that deletes over 100 rows in one round trip turns hash and merge joins
// off for itself), so their cost is per row, whatever the tables' size.
// The cost on a 2-core machine (the repository's benchmark notes, big
// batches, measured at layout 3, which also wrote the adjacency table): a
// hub of 2.5·10^5 edges deletes in 26-71 s, a bulk load of
// 10^5 edges takes 7-24 s (depending on the machine's other load), and
// other writers of the store wait that long.
//
// Every process writing a store must run a build that takes the store
// lock: an older one would write beside an escalated transaction.
//
// # Errors
//
// A connection lost (or a session ended by the server, FATAL) while COMMIT
// is in flight yields an error wrapping anchor.ErrOutcomeUnknown: the batch
// may or may not have landed. Every other error means nothing of the batch
// landed.
//
// # High availability
//
// Run PostgreSQL with a synchronous streaming standby
// (synchronous_standby_names, synchronous_commit = on: a COMMIT is
// acknowledged once the standby has it) and give Open both hosts, with a
// read-write target, in either form:
//
//	host=db1,db2 port=5432,5432 user=app dbname=app target_session_attrs=read-write
//	postgres://app@db1:5432,db2:5432/app?target_session_attrs=read-write
//
// Every new connection goes to whichever host accepts writes. When the
// primary dies and the standby is promoted (Anchorage does not promote:
// an operator or a failover manager does), the Store goes on without being
// reopened:
//
//   - Before COMMIT is sent, a lost connection, no host accepting a
//     read-write connection (between the death and the promotion), a
//     server shutting down (57P01-03) or a read-only transaction (25006)
//     mean nothing landed. The driver drops the pool's connections (they
//     lead to the dead server) and reports backend.ErrUnavailable with
//     backend.ErrRetry; the engine runs the transaction again, on the new
//     primary, for as long as the caller's context allows, then returns an
//     error wrapping backend.ErrUnavailable and the context's error.
//     Credentials or a database refused are not retried.
//   - While COMMIT is in flight, the commit's fate is unknown:
//     anchor.ErrOutcomeUnknown. It may have reached the standby (and is on
//     the new primary) or not; read the anchors back to know.
//   - A commit acknowledged (nil) is on the standby, so on the new primary.
//     Commits on a primary whose standby is down wait, unacknowledged,
//     until a standby is back.
//   - A View retries while no host can be reached; one whose connection is
//     lost while its callback runs fails wrapping backend.ErrUnavailable,
//     and the callback is not run again.
//
// Without target_session_attrs=read-write (or =primary) a connection may
// land on a standby, and every write is retried (25006) until the context
// ends. TestFailover runs 20 kill-promote-rejoin cycles under load on a
// test cluster (pgtest.Cluster).
//
// # Tests
//
// pgtest starts a throwaway server from the local PostgreSQL binaries on a
// Unix socket, or a primary with a synchronous standby (Cluster); the
// tests skip, saying why, where there are none.
package postgres
