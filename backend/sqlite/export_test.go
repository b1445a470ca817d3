package sqlite

// ResumSQL recomputes every row's checksum in SQL: tests that write a
// column directly run it to check what the decoder makes of the value
// itself, past the checksum. It is migration 2's re-sum for the tables
// of the current schema (no adj).
const ResumSQL = `
UPDATE meta SET crc = ` + sumFunc + `('meta', key, value);
UPDATE fields SET crc = ` + sumFunc + `('fields', id, name, value, stamp, origin);
UPDATE anchors SET fsum = coalesce((SELECT sum(f.crc + 4294967296) FROM fields f WHERE f.id = anchors.id), 0);
UPDATE anchors SET crc = ` + sumFunc + `('anchors', id, kind, owner, type, created, updated, deleted,
	access_stamp, access, source, target, undirected, fsum);
UPDATE log SET crc = ` + sumFunc + `('log', seq, id);
UPDATE kv SET crc = ` + sumFunc + `('kv', key, value);
`

// Begins returns how many times s's writer has run BEGIN IMMEDIATE.
func Begins(s *Store) uint64 { return s.Driver().(*driver).begins.Load() }

// LockSuffix names the lock file writers queue on: the database's path
// plus LockSuffix.
const LockSuffix = lockSuffix

// FlockSupported: writers queue on the lock file on this platform.
const FlockSupported = flockSupported
