// Package racetests is Anchorage's concurrency regression suite: scenarios
// taken from the real bug reports that motivated the engine, each run
// against a deliberately broken control and through the engine.
//
// The package holds only tests; this file documents them.
//
// # The bug
//
// A graph runtime cached nodes per request. Each node carried its own edge
// list, and every write stored the whole node document. Concurrent requests
// that each loaded the user's root and added an edge erased each other's
// edges. A later fix merged edge deltas at commit, but left a second write
// path — an immediate put() during cascade saves — still writing whole
// documents, and users lost their profile node within seconds of concurrent
// use.
//
// # Scenarios
//
// Each scenario is a named test whose doc comment describes the bug it pins:
//
//  1. TestMinimalRepro: one walker adds an item to a shared root while 30
//     walkers load the root and touch it; 10 rounds (also with fsync on).
//  2. TestPageLoad: the dozen requests of an IDE page load, some adding
//     sessions, notifications, versions and messages; 20 rounds.
//  3. TestCascadeSaveDuringChat: a chat walker saving each new message with
//     Put (the cascade path) while stale sessions commit the root and the
//     project; 5 rounds of at least a second. The profile must survive.
//  4. TestFieldClobber: walkers setting different fields of one node from
//     stale copies; per-field last-commit-wins.
//  5. TestDeleteVsConnect: a delete racing connects to the deleted node.
//  6. TestMultiProcess: scenario 1 over 3 OS processes sharing a SQLite
//     file (the test binary re-executes itself as TestMultiProcessChild).
//
// Every scenario runs twice. First against the naive whole-document writer
// (internal/naive), where barriers make the schedule lose data every time,
// not by luck: the test fails if the control loses nothing, because a check
// that cannot fail is worth nothing. Then through the engine (tiered.Memory
// over each backend: bolt and SQLite), where nothing may be lost and
// backend.Verify must be clean after every round. Each run logs the writes
// it expected, found stored, and lost.
//
// # Properties
//
// TestModelInterleavings is a pgregory.net/rapid state-machine test: random
// interleavings of walkers loading, creating, connecting, disconnecting,
// setting, deleting, putting, committing, aborting and forgetting, checked
// after every step against a model of committed state that spells out the
// merge rules (per-field last-commit-wins, optimistic conflicts, edges as
// independent adds and removes, delete cascade, atomic batches). rapid
// prints the seed of a failing case; rerun it with -rapid.seed.
//
// TestEdgeHistoriesLinearizable records concurrent histories of edge
// operations (connect and disconnect commits, reads of a node's edge set
// through a fresh tiered.Memory or a backend.View) and checks them with
// github.com/anishathalye/porcupine, partitioned per node. The naive
// writer's history must be rejected; TestLinearizabilityCheckerRejects feeds
// the checker hand-made broken histories to show it can fail.
//
// # Engine bugs
//
// Tests named after an engine bug this suite found, listed here;
// each fails while its bug stands:
//
//   - TestSetBackToLoadedValueIsWritten: a Set back to the walker's loaded
//     value was silently not written (tiered.Memory inferred dirty fields
//     by comparing values); the rapid model found it too. Fixed.
//   - TestSQLiteWriterSurvivesCallersGivingUp: a caller's context ending
//     during BEGIN IMMEDIATE leaves the SQLite writer connection inside a
//     transaction, and every later Apply fails with a raw SQL error
//     (TestCommitErrorsTellTheTruth found it under group commit, since
//     fixed there; it stands with NoGroupCommit).
//
// # Running
//
//	go test -race ./race_tests/
//
// The default run takes a minute or two and asserts no wall-clock time.
// ANCHORAGE_SOAK, a Go duration, makes each scenario run (per strategy and
// backend), the rapid test and the linearizability test keep repeating
// their rounds until that much time has passed:
//
//	ANCHORAGE_SOAK=10m go test -race -timeout 0 -run TestCascadeSaveDuringChat ./race_tests/
//
// # Failure artifacts
//
// When a test fails it copies its database file(s), the operation history
// (every walker operation with its time and outcome) and any extra evidence
// (the rapid model, a porcupine visualisation, child process output) to a
// new directory under os.TempDir, and names that directory in the failure
// output.
package racetests
