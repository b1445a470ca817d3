// Command anchorage is the command-line tool of the Anchorage graph-anchor
// persistence engine: it demonstrates the lost-edge bug Anchorage exists to
// prevent, benchmarks the backends, and inspects and checks stores.
//
// # Commands
//
//	anchorage demo     [--walkers 32] [--edges 50] [--db PATH] [--backend auto] [--no-sync]
//	anchorage bench    [--walkers 1,8,64,256] [--duration 2s] [--hub-sizes 10,1000,1e5,1e6]
//	                   [--backends bolt,sqlite] [--postgres DSN] [--modes group,nogroup] [--naive]
//	                   [--no-sync] [--csv FILE] [--plot FILE.svg] [--force] [--dir DIR]
//	anchorage verify   --db PATH
//	anchorage stats    --db PATH
//	anchorage get ID   --db PATH
//	anchorage edges ID --db PATH
//	anchorage ls NODE  --db PATH [--type TYPE] [--dir out|in|both|all] [--limit 100] [--after CURSOR]
//	anchorage find     --db PATH --type TYPE [--field NAME --value JSON] [--limit 100] [--after CURSOR]
//	anchorage dot ID   --db PATH [--depth 2] [--max-nodes 1000]
//	anchorage export   --db PATH --out FILE [--force] [--after SEQ] [--chunk 1000]
//	anchorage import FILE --db PATH [--max-skew 1m] (--as ROOT | --trust)
//	anchorage sync     --from PATH --to PATH [--from-backend auto] [--to-backend auto] [--max-skew 1m]
//	                   (--as ROOT | --trust) [--follow [--interval 1s] [--max-backoff 30s]] [--reidentify]
//	anchorage purge    --db PATH (--older-than DURATION | --before TIME) [--chunk 1000] [--replica PATH]...
//	anchorage compact  --db PATH
//
// Every command takes -q/--quiet (no progress bar, no notes on stderr) and,
// except dot, --json (the result as JSON on stdout). Every command that
// opens a store takes --backend auto|bolt|sqlite|postgres (default auto),
// --schema (postgres) and --timeout (how long to wait for a store another
// process holds). What a command reads is an argument (an ID, an input
// file); what it writes is a flag (--out, --csv, --plot), and an existing
// file is replaced only with --force. Lists are comma-separated or
// repeated flags. anchorage --version prints the build; anchorage alone
// prints the help and exits 2.
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
// --no-sync. The naive writer, the control that loses edges, is measured
// with --naive. Results go to stdout as tables (or JSON with --json), and
// optionally to a CSV file and a plot of throughput against walkers.
//
// # Backends
//
// --backend (or --backends for bench) chooses the storage backend: bolt
// (embedded bbolt, one process per file), sqlite (SQLite in WAL mode, many
// processes per file) or postgres (a PostgreSQL server; --db is then a
// connection string and --schema names the store; bench measures it with
// --postgres DSN, each point in a fresh schema dropped afterwards).
// --no-sync means no fsync at all for bolt and synchronous=NORMAL (no fsync
// at each commit) for sqlite. The default, auto, decides as the library's
// anchorage.Open does: a postgres:// URL or key=value connection string is
// postgres; an existing file is what its first bytes say; a new file whose
// name ends in .sqlite, .sqlite3 or .db3 (or a sqlite:// path) is sqlite;
// anything else is bolt.
//
// A bolt store is open in one process at a time: while an application
// holds it, the commands cannot open it (they wait --timeout, 1s by
// default, then say so). To inspect a store while it is in use, keep it in
// SQLite, or look at an export of it.
//
// # Replication
//
// export writes the changes after --after (0: all) from one consistent
// snapshot to a versioned file of checksummed chunks, under a temporary name
// renamed into place when complete. import first checks the whole file and
// refuses a damaged one, or one of a newer format, without touching the
// store; it then merges chunk by chunk, each chunk in one transaction with
// the store's import cursor (see package replica for the rules), and prints
// inserted / updated / skipped / conflicts / refused per kind. Records
// stamped more than --max-skew ahead are refused for now, listed, and
// delivered by a later import or sync (the cursor stays before them); the
// command exits 1 while any are refused. import and sync need one of --as
// ROOT, which checks every record as that root's walker would be (the rest
// are refused), and --trust, which merges unchecked as the system root
// (between stores one owner controls); there is no default. sync streams from --from (read-only) into --to every change
// after --to's cursor, resumes after its last applied chunk when
// interrupted, and does not send back what came from --to; with --follow
// it keeps running, reports the lag and backs off on errors. --reidentify
// copies a cp copy of a store into a new store with an identity of its own,
// so it can sync with its original.
//
// # Read-only commands
//
// verify, stats, get, edges, dot and export open the store read-only (for bolt, a
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
// Errors are printed to stderr on one line starting with "anchorage: "
// (an unknown command is followed by cobra's suggestions, one a line).
package main
