package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/anchorage-db/anchorage/anchor"
)

// SchemaVersion is the schema this build creates and reads. It is kept in
// PRAGMA user_version; a database with a higher version is refused with
// anchor.ErrVersion, one with a lower version is migrated forward when
// opened read-write. It always equals len(migrations).
const SchemaVersion = 5

// applicationID marks an Anchorage database in the SQLite header
// (PRAGMA application_id): "Anch".
const applicationID = 0x416e6368

// magic is the meta row that names the format.
const magic = "anchorage-sqlite"

// migrations[i] takes the schema from version i to version i+1. Entries are
// never edited once released; new versions append.
var migrations = []string{
	// 1: the initial layout.
	//
	// anchors holds the header of every anchor (tombstones included); the
	// fields of an anchor are rows of fields, so a merge writes only the
	// fields that changed. adj (dropped in 5) is the adjacency index: one row per
	// (node, edge), so adding or removing an edge is a key-level insert or
	// delete that commutes with every other edge change. log is the change
	// log: each anchor appears once, at the sequence of its latest write.
	// A field's origin is the replica that wrote it (NULL: this one). kv
	// holds small values written with batches (replication's import
	// cursors), apart from the store's own meta.
	`
CREATE TABLE meta (
	key   TEXT PRIMARY KEY NOT NULL,
	value
) WITHOUT ROWID;
CREATE TABLE anchors (
	id           BLOB PRIMARY KEY NOT NULL,
	kind         INTEGER NOT NULL,
	owner        BLOB NOT NULL,
	type         TEXT NOT NULL,
	created      INTEGER NOT NULL,
	updated      INTEGER NOT NULL,
	deleted      INTEGER NOT NULL,
	access_stamp INTEGER NOT NULL,
	access       BLOB NOT NULL,
	source       BLOB,
	target       BLOB,
	undirected   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE fields (
	id    BLOB NOT NULL,
	name  TEXT NOT NULL,
	value  BLOB,
	stamp  INTEGER NOT NULL,
	origin BLOB,
	PRIMARY KEY (id, name)
) WITHOUT ROWID;
CREATE TABLE adj (
	node BLOB NOT NULL,
	edge BLOB NOT NULL,
	peer BLOB NOT NULL,
	dir  INTEGER NOT NULL,
	type TEXT NOT NULL,
	PRIMARY KEY (node, edge)
) WITHOUT ROWID;
CREATE TABLE log (
	seq INTEGER PRIMARY KEY,
	id  BLOB NOT NULL UNIQUE
);
CREATE TABLE kv (
	key   TEXT PRIMARY KEY NOT NULL,
	value BLOB NOT NULL
) WITHOUT ROWID;
`,
	// 2: a checksum on every row (see rowSum). Each table gains crc, the
	// checksum of the row's other columns; anchors also gains fsum, the
	// digest of its field rows (see fieldTerm), which its crc covers.
	// Existing rows are summed here, fields before the anchors whose
	// digest they feed.
	`
ALTER TABLE meta ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
ALTER TABLE fields ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
ALTER TABLE anchors ADD COLUMN fsum INTEGER NOT NULL DEFAULT 0;
ALTER TABLE anchors ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
ALTER TABLE adj ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
ALTER TABLE log ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
ALTER TABLE kv ADD COLUMN crc INTEGER NOT NULL DEFAULT 0;
` + resumV2SQL,
	// 3: delta's secondary indexes (see index.go), filled by the engine
	// when it first opens the store.
	`
CREATE TABLE idx (
	k BLOB PRIMARY KEY NOT NULL,
	v BLOB NOT NULL
) WITHOUT ROWID;
`,
	// 4: field values kept out of line (lazy.go), in a rowid table.
	`
CREATE TABLE vals (
	id    BLOB NOT NULL,
	name  TEXT NOT NULL,
	value BLOB NOT NULL,
	crc   INTEGER NOT NULL,
	PRIMARY KEY (id, name)
);
`,
	// 5: no adjacency table. delta's edge index entries (in idx since
	// schema 3, one per end of every live edge) are the store's only
	// adjacency: the engine reads a node's edges from them. A store whose
	// index was never built (delta.IndexedKey unset) gets every entry when
	// the engine opens it read-write, right after this migration. The adj
	// rows go with their table, which has no other index.
	`
DROP TABLE adj;
`,
}

// minReadable is the oldest schema a read-only Open reads as it is: one
// that has every table this build reads (schema 4 differs from 5 only by
// the adj table, which this build never reads). An older one must be
// migrated by a read-write Open first.
const minReadable = 4

// dropped names the tables a later schema dropped, with the schema that
// dropped them: a store of an earlier schema must still have them, since
// the migrations on the way alter them.
var dropped = map[string]int{"adj": 5}

// resumV2SQL sets the checksum columns of every row from the row's other
// columns, as migration 2 runs it (adj included): fields before the
// anchors whose digest they feed. Released with schema 2; never edited.
const resumV2SQL = `
UPDATE meta SET crc = ` + sumFunc + `('meta', key, value);
UPDATE fields SET crc = ` + sumFunc + `('fields', id, name, value, stamp, origin);
UPDATE anchors SET fsum = coalesce((SELECT sum(f.crc + 4294967296) FROM fields f WHERE f.id = anchors.id), 0);
UPDATE anchors SET crc = ` + sumFunc + `('anchors', id, kind, owner, type, created, updated, deleted,
	access_stamp, access, source, target, undirected, fsum);
UPDATE adj SET crc = ` + sumFunc + `('adj', node, edge, peer, dir, type);
UPDATE log SET crc = ` + sumFunc + `('log', seq, id);
UPDATE kv SET crc = ` + sumFunc + `('kv', key, value);
`

// Tables every schema version has; checked on open (with dropped, for an
// older version).
var tables = []string{"meta", "anchors", "fields", "log", "kv"}

// sqliteHeader starts every SQLite database file.
const sqliteHeader = "SQLite format 3\x00"

// checkFile refuses, before SQLite touches it, a file that cannot be a
// SQLite database. It reports whether the file exists with content.
func checkFile(path string) (exists bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if fi.IsDir() {
		return false, fmt.Errorf("%w: %s is a directory", anchor.ErrNotStore, path)
	}
	if fi.Size() == 0 {
		return false, nil
	}
	hdr := make([]byte, 100)
	n, err := io.ReadFull(f, hdr)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, err
	}
	if !bytes.HasPrefix(hdr[:n], []byte(sqliteHeader)) {
		return false, fmt.Errorf("%w: %s is not a SQLite database (it starts with %q)", anchor.ErrNotStore, path, printable(hdr[:min(n, 16)]))
	}
	if n < len(hdr) {
		return false, fmt.Errorf("%w: %s is a truncated SQLite database (%d bytes, shorter than the 100-byte header)", anchor.ErrCorrupt, path, n)
	}
	return true, nil
}

func printable(b []byte) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '.'
		}
		return r
	}, string(b))
}

// schemaState is what checkSchema found.
type schemaState int

const (
	schemaFresh   schemaState = iota // an empty database: create the schema
	schemaCurrent                    // ours, at SchemaVersion
	schemaOlder                      // ours, at an older version: migrate
)

// querier is what checkSchema needs: a *sql.Conn or *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// checkSchema decides whether the database is ours and at which version.
// A database of another application yields anchor.ErrNotStore, one of a
// newer schema anchor.ErrVersion.
func checkSchema(ctx context.Context, q querier) (schemaState, int, error) {
	var appID, version int64
	if err := q.QueryRowContext(ctx, "PRAGMA application_id").Scan(&appID); err != nil {
		return 0, 0, err
	}
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return 0, 0, err
	}
	if appID != applicationID {
		var n int
		var name sql.NullString
		if err := q.QueryRowContext(ctx, "SELECT count(*), min(name) FROM sqlite_schema").Scan(&n, &name); err != nil {
			return 0, 0, err
		}
		switch {
		case appID == 0 && version == 0 && n == 0:
			return schemaFresh, 0, nil
		case appID != 0:
			return 0, 0, fmt.Errorf("%w: a SQLite database of another application (application_id %#x)", anchor.ErrNotStore, appID)
		default:
			return 0, 0, fmt.Errorf("%w: a SQLite database with %d schema objects (e.g. %q) and no Anchorage metadata", anchor.ErrNotStore, n, name.String)
		}
	}
	switch {
	case version > int64(SchemaVersion):
		return 0, 0, fmt.Errorf("%w: database schema version %d is newer than this build's %d; upgrade Anchorage", anchor.ErrVersion, version, SchemaVersion)
	case version < 1:
		return 0, 0, fmt.Errorf("%w: Anchorage application id but schema version %d", anchor.ErrCorrupt, version)
	}
	rows, err := q.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'table'")
	if err != nil {
		return 0, 0, err
	}
	have := make(map[string]bool)
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return 0, 0, err
		}
		have[name] = true
	}
	if err := rows.Close(); err != nil {
		return 0, 0, err
	}
	for _, t := range tables {
		if !have[t] {
			return 0, 0, fmt.Errorf("%w: table %q is missing", anchor.ErrCorrupt, t)
		}
	}
	for t, at := range dropped {
		if version < int64(at) && !have[t] {
			return 0, 0, fmt.Errorf("%w: table %q of schema %d is missing", anchor.ErrCorrupt, t, version)
		}
	}
	var m string
	switch err := q.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = 'magic'").Scan(&m); {
	case errors.Is(err, sql.ErrNoRows):
		return 0, 0, fmt.Errorf("%w: meta row %q is missing", anchor.ErrCorrupt, "magic")
	case err != nil:
		return 0, 0, err
	case m != magic:
		return 0, 0, fmt.Errorf("%w: unknown format %q", anchor.ErrNotStore, m)
	}
	if version < int64(SchemaVersion) {
		return schemaOlder, int(version), nil
	}
	return schemaCurrent, int(version), nil
}
