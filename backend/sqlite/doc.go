// Package sqlite is the SQLite durable tier of Anchorage: one database file,
// shared by any number of goroutines and any number of OS processes, on
// modernc.org/sqlite (pure Go, no cgo).
//
//	s, err := sqlite.Open("graph.sqlite", nil) // nil: defaults
//	if err != nil { ... }
//	defer s.Close()
//	w := tiered.New(s, userRoot, nil)           // one Memory per walker
//
// # Schema
//
// The graph lives in these tables (SchemaVersion counts their migrations):
//
//   - anchors: one row per anchor, tombstones included: kind, owner, type,
//     the created/updated/deleted/access stamps, the access grants, and an
//     edge's source, target and direction.
//   - fields: one row per (anchor, field name): the msgpack value and the
//     stamp of the write that set it. A merge writes only the fields that
//     changed.
//   - log: the change log, seq INTEGER PRIMARY KEY and id UNIQUE: each
//     anchor appears once, at the sequence of its latest write.
//   - meta: magic, store and replica IDs, the persisted HLC and sequence.
//   - vals (schema 4): field values of 64 KiB or more, one rowid row per
//     (anchor, field), kept out of fields (whose rows are its B-tree's
//     keys: a large one there made every seek past it read it); the field
//     row holds a reference instead.
//   - idx (schema 3): delta's secondary-index entries, key -> value, each
//     value carrying delta's checksum of both. Its edge entries, one per
//     end of every live edge, are the store's only adjacency: a node's
//     edges are read from them (delta.Adjacent), by key, so adding an edge
//     to a node with a million edges touches nothing else of the node.
//
// One more table: kv (small values written with batches).
//
// Schema history: 1, the initial layout (with an adjacency table, adj,
// one row per (node, edge)); 2, a checksum column on every row; 3, idx;
// 4, vals; 5, adj dropped, the edge index entries taking its place. A
// read-write Open migrates an older store forward in one transaction (a
// store whose index was never built then gets it from the engine); a
// read-only Open reads a schema-4 store as it is, since it has every table
// this build reads, and refuses an older one with anchor.ErrVersion.
//
// The schema version is PRAGMA user_version, and PRAGMA application_id
// marks the file as Anchorage's. Open refuses, without changing the file,
// a file that is not a SQLite database and a SQLite database of another
// application (anchor.ErrNotStore), a store of a newer schema
// (anchor.ErrVersion) and a damaged file (anchor.ErrCorrupt). A row that
// does not decode is reported as an *anchor.Error naming the anchor and
// wrapping anchor.ErrCorrupt; View.Anchors passes it on as (id, nil, err).
// An index entry that fails its checksum is reported by delta with an
// error wrapping anchor.ErrCorrupt that names the entry's key.
//
// Every row of the other tables (kv, which holds import cursors,
// included) carries a crc column: the CRC-32C of its table's name and all
// its other columns, key included, checked on every read before a column
// is decoded. An anchors row also
// carries fsum, a digest of its field rows, so a field row that vanished,
// moved to another key or came back stale is caught when the anchor is
// read. A row whose checksum does not match is reported like one that
// does not decode. backend.Verify also reports field rows that belong to
// no anchor, damaged kv and meta rows, and what SQLite's
// PRAGMA integrity_check finds.
//
// # Writes
//
// Each Store has one writer connection, used by one transaction at a time.
// Every write transaction starts with BEGIN IMMEDIATE, so it holds the
// database's write lock from its first read: delta.Apply's re-read, checks
// and merge all see the state the commit will be applied to. By default
// concurrent Apply calls are group-committed (backend.GroupCommitter): one
// transaction, one fsync, many batches, each checked and applied in queue
// order. Options.NoGroupCommit gives each Apply its own transaction instead.
//
// Stamps and sequence numbers come from the database, not from process
// memory: each transaction first reads the persisted HLC and change-log
// sequence (inside the IMMEDIATE transaction, so no other process can move
// them meanwhile), moves the Store's clock past the HLC, and writes both
// back before COMMIT. Stamps therefore grow with commit order across all
// processes sharing the file.
//
// # Durability
//
// The database runs in WAL mode. The log is cut back to
// Options.WALLimit by the first commit after the last View that needed
// its older frames ends; Options.MaxViewAge bounds how long one View can
// hold them (see WALLimit for the whole bound). With SyncFull (the default) the log is
// fsynced at every commit: an Apply that returned nil survives a power cut.
// SyncNormal syncs only at checkpoints: a crash of the process loses
// nothing, but an OS crash or power cut may roll back the latest commits
// (whole batches, never parts of one).
//
// # Many processes
//
// Writers of all processes queue on a lock file next to the database (its
// path with "-lock" appended, created by the first read-write Open with
// the database file's permissions): each write transaction takes an
// exclusive advisory lock on it (flock) before BEGIN IMMEDIATE and lets go
// after COMMIT or ROLLBACK. A writer that finds it taken sleeps in the
// kernel until the holder lets go, so waiting processes do not poll and a
// released lock is taken at once. On Linux the waiters form a queue
// (byte-range locks on the same file, and a ticket counter in its first
// eight bytes): a release wakes the writer that has waited longest, not
// every waiter, and waiters go in the order they came; a writer that
// finds the lock free takes it at once, and so does a waiter that finds
// it free while the writer before it in the queue has stopped (it looks
// every 100 ms). Two Stores in one process queue
// on it like two processes. The wait is bounded by the caller's context
// only (see below); a wait cut short goes on in the background and lets
// go of the lock as soon as it gets it. The lock file holds no data: it
// may be deleted while no Store has the database open.
//
// The lock file only orders Anchorage's writers; SQLite's own file locks
// still guard the data. A writer that does not take the lock file (the
// sqlite3 shell, an older build of this package) is met as before: a
// transaction that finds the database locked waits under SQLite's
// busy_timeout (Options.BusyTimeout), then rolls back and retries the
// whole transaction after a randomised exponential backoff (capped at
// Options.MaxBackoff). So too every writer when the lock file cannot be
// opened (a read-only directory, say) or the platform has no flock
// (Windows, among others): they then poll SQLite's lock. Re-running is
// safe: each attempt starts from scratch inside its own transaction, and
// nothing of a rolled-back attempt, stamp included, is kept. The retries
// go on for as long as the caller's context allows; "database is locked"
// never reaches a caller. Only a caller whose context is done gets a
// *BusyError, which wraps anchor.ErrBusy and the context's error and
// names the file and how long the caller waited; nothing of its batch
// landed.
//
// With group commit the committer waits for the lock file on behalf of
// the group, and a caller whose context ends meanwhile withdraws its
// batch. If SQLite's lock stays taken past BusyTimeout the committer rolls
// back and hands every batch of the group back to its caller, which pauses
// and resubmits it, or gives up when its own context is done. So no caller
// waits on another's behalf.
//
// # Reads
//
// View runs on a pool of read connections (PRAGMA query_only), each View
// one read transaction: one consistent snapshot of committed state. In WAL
// mode readers neither wait for writers nor hold them up. A View's index
// scans (listings, adjacency) step SQLite's statements through its C API
// on the View's own connection, in the View's transaction, copying rows in
// batches into one reused buffer; the rest of its reads go through
// database/sql.
//
// # Read-only
//
// Options.ReadOnly opens an existing store without ever writing to the
// database file (tools such as the anchorage command use it to inspect a
// store in use), and without creating or locking the lock file. Apply
// then fails with anchor.ErrReadOnly.
package sqlite
