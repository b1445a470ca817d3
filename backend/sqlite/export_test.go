package sqlite

import "strings"

// ResumSQL recomputes every row's checksum in SQL: tests that write a
// column directly run it to check what the decoder makes of the value
// itself, past the checksum. It is migration 2's re-sum without the adj
// table, which schema 5 dropped.
var ResumSQL = strings.Replace(resumV2SQL, "UPDATE adj SET crc = "+sumFunc+"('adj', node, edge, peer, dir, type);\n", "", 1)

// Begins returns how many times s's writer has run BEGIN IMMEDIATE.
func Begins(s *Store) uint64 { return s.Driver().(*driver).begins.Load() }

// LockSuffix names the lock file writers queue on: the database's path
// plus LockSuffix.
const LockSuffix = lockSuffix

// FlockSupported: writers queue on the lock file on this platform.
const FlockSupported = flockSupported
