// Command anchorage is the command-line tool of the Anchorage graph-anchor
// persistence engine: it demonstrates the lost-edge bug Anchorage exists to
// prevent, benchmarks the backends, and inspects and checks stores.
//
// # Commands
//
//	anchorage demo    [--walkers 32] [--edges 50] [--db PATH] [--backend bolt|sqlite|postgres] [--nosync] [--json] [-q]
//	anchorage bench   [--walkers 1,8,64,256] [--duration 2s] [--hub-sizes 10,1000,100000,1000000]
//	                  [--backends bolt,sqlite] [--postgres DSN] [--modes group,nogroup] [--naive] [--nosync]
//	                  [--json] [--csv FILE] [--plot FILE.svg] [-q]
//	anchorage verify  --db PATH [--backend auto|bolt|sqlite] [--json]
//	anchorage stats   --db PATH [--backend auto|bolt|sqlite] [--json]
//	anchorage get ID  --db PATH [--backend auto|bolt|sqlite] [--json]
//	anchorage edges ID --db PATH [--backend auto|bolt|sqlite] [--json]
//	anchorage dot     --root ID --db PATH [--depth 2] [--max-nodes 1000] [--backend auto|bolt|sqlite]
//	anchorage export  --db PATH --out FILE [--after SEQ] [--chunk 1000] [--json] [-q]
//	anchorage import  FILE --db PATH [--max-skew 1m] [--json] [-q]
//	anchorage sync    --from PATH --to PATH [--max-skew 1m] [--json]
//
// The read-only commands and export take --backend auto|bolt|sqlite|postgres;
// with postgres, --db is a connection string and --schema names the store.
//
// Every command has --help. IDs are UUIDs, with or without dashes.
//
// # Demo
//
// demo runs the scenario of the real bug twice, through the naive
// whole-document writer (internal/naive) and through Anchorage: many walkers
// load a user's root node, wait at a barrier, then each adds edges to it,
// while a cascade-save walker Puts its stale copy of the root with a field
// changed and Puts new edges to message nodes. It prints, per strategy, the
// edges expected, stored and lost, and commits/s. The naive writer loses
// edges on every run (every walker writes back the root document it loaded
// before the others wrote); Anchorage must lose none, and demo exits 1 if it
// does. A progress bar goes to stderr when stderr is a terminal.
//
// # Bench
//
// bench measures commits/s and p50/p99 commit latency at each walker count,
// for each backend with and without group commit and for the naive writer,
// and the latency of adding one edge to a hub node that already has 10 to
// 10^6 edges (grown with large batches in between). Each point runs for
// --duration in a fresh temporary store; commits are fsynced unless
// --nosync. Results go to stdout as tables (or JSON with --json), and
// optionally to a CSV file and a plot of throughput against walkers.
//
// # Backends
//
// --backend (or --backends for bench) chooses the storage backend: bolt
// (embedded bbolt, one process per file; the default), sqlite (SQLite in
// WAL mode, many processes per file) or postgres (a PostgreSQL server; --db
// is then a connection string and --schema names the store; bench measures
// it with --postgres DSN, each point in a fresh schema dropped afterwards).
// --nosync means no fsync at all for bolt and synchronous=NORMAL (no fsync
// at each commit) for sqlite. The read-only commands default to --backend
// auto, which tells a connection string, a SQLite file from its first
// bytes, and treats anything else as bolt.
//
// # Replication
//
// export writes the changes after --after (0: all) from one consistent
// snapshot to a versioned file of checksummed chunks, under a temporary name
// renamed into place when complete. import first checks the whole file and
// refuses a damaged one, or one of a newer format, without touching the
// store; it then merges chunk by chunk, each chunk in one transaction with
// the store's import cursor (see package replica for the rules), and prints
// inserted / updated / skipped / conflicts / refused per kind. sync streams
// from --from (read-only) into --to every change after --to's cursor.
//
// # Read-only commands
//
// verify, stats, get, edges and dot open the store read-only (for bolt, a
// shared lock and a read-only file descriptor) and never modify it, not even
// its modification time.
//
// # Exit codes
//
//	0  success
//	1  a check failed (verify found problems; demo: Anchorage lost edges or
//	   a commit failed) or an operation failed (I/O error, store locked by
//	   another process)
//	2  bad usage or bad input: unknown command or flag, missing argument,
//	   missing file, a file that is not an Anchorage store (or is damaged
//	   beyond opening), a store written by a newer version, a malformed ID,
//	   an ID not in the store, a backend not in this build
//
// Errors are printed to stderr on one line starting with "anchorage: ".
package main
