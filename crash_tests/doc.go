// Package crash_tests is the crash-consistency suite: it kills a process
// that is committing to a store with SIGKILL at random moments and checks
// that every commit the process was told had landed is still there, and that
// the one commit in flight at the moment of the kill landed completely or
// not at all.
//
// The package holds only tests; this file documents them.
//
// # The loop
//
// TestCrashLoop runs once per durable backend: bolt, SQLite, and PostgreSQL
// (on a throwaway server the parent starts; there the killed process is the
// client, so the check is that a transaction cut off mid-commit never lands
// in part; skipped, saying why, where no server binaries exist). The parent
// test creates a
// store and a root node, then starts a child: the test binary itself,
// re-executed (internal/childproc) to run TestCrashChild in the role of the
// backend, with environment variables naming the store file, the root and
// a seed. The child opens
// the store with fsync on (the defaults) and commits in a loop through
// tiered.Memory, acting as the root. Every commit i
//
//   - sets the root's field "n" to i,
//   - creates a node with fields n = born = i and an edge root -> node of
//     the unique type "C<i>" (field n = i),
//
// and some commits also set field "n" of an older node to i, connect two
// live nodes with an edge of type "X<i>", disconnect an older edge, or
// delete an older node (which takes its edges with it).
//
// Before calling Commit the child prints a BEGIN line describing exactly
// what the commit will make true (every ID involved); after Commit returns
// nil it prints an ACK line. Both are single writes to a pipe, so a line is
// never torn.
//
// The parent reads the lines as they come, kills the child after a random
// delay, reopens the store and checks it against a model built from the
// lines alone. (On PostgreSQL it first waits until the server sessions of
// the killed child have ended: the server completes a COMMIT it received
// before the kill, possibly after the kill; the child's connections carry
// an application_name unique to the run, so pg_stat_activity shows when
// they are gone.) The check: backend.Verify must find nothing wrong, and
// the stored state must equal either the model of every acknowledged
// commit, or that model plus the one unacknowledged (in-flight) commit. "Equal" is exact: every
// node's and edge's liveness, fields, endpoints and types, the adjacency
// rows of every node, and the number of stored anchors. So a lost
// acknowledged commit, a half-applied in-flight commit, a stray anchor or a
// stray adjacency row each fail the test. Then the next child continues on
// the same store; it must resume from the counter the parent expects.
//
// # Running it longer
//
// The default run makes at least 50 kills per backend. Set ANCHORAGE_SOAK
// to a Go duration to keep killing until it expires (per backend), e.g.
//
//	ANCHORAGE_SOAK=30m go test -race -timeout 0 -run TestCrashLoop ./crash_tests/
//
// The parent logs its seed; ANCHORAGE_CRASH_SEED=<seed> replays the same
// choices (the kill moments still depend on timing).
//
// # When it fails
//
// The failure message names a directory under os.TempDir() holding a copy
// of the store file(s), the children's output (the full operation history)
// and their standard error.
package crash_tests
