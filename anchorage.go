package anchorage

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/anchorage-db/anchorage/backend"
	"github.com/anchorage-db/anchorage/backend/bolt"
	"github.com/anchorage-db/anchorage/backend/postgres"
	"github.com/anchorage-db/anchorage/backend/sqlite"
)

// The backend names Locate returns.
const (
	Bolt     = "bolt"
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// boltMagic is the bbolt file's magic number, right after the first page's
// 16-byte header, in the machine's byte order (bbolt writes it natively).
const boltMagic = 0xED0CDAED

// libpqKeywords matches a libpq key=value connection string by its first
// keyword.
var libpqKeywords = regexp.MustCompile(`^\s*(host|hostaddr|port|dbname|user|password|sslmode|service|connect_timeout|application_name)\s*=`)

// sqliteExts are the file name endings that make a new file a SQLite store.
var sqliteExts = []string{".sqlite", ".sqlite3", ".db3"}

// Open opens the store that dsn names, creating it if it does not exist,
// with the chosen backend's default options. Locate tells which backend
// dsn names:
//
//	graph.db                       bolt (any other path)
//	bolt://graph.db                bolt
//	graph.sqlite, sqlite://graph.db  SQLite (also .sqlite3 and .db3)
//	postgres://user@host/db        PostgreSQL (also postgresql://, or
//	                               libpq key=value with host= or dbname=)
//
// An existing SQLite or bolt file opens with its own backend whatever its
// name. The returned store must be closed with Close.
func Open(dsn string) (backend.Store, error) {
	name, target := Locate(dsn)
	if target == "" {
		return nil, errors.New("anchorage: open: empty store path")
	}
	switch name {
	case SQLite:
		return sqlite.Open(target, nil)
	case Postgres:
		return postgres.Open(target, nil)
	}
	return bolt.Open(target, nil)
}

// Locate names the backend of dsn (Bolt, SQLite or Postgres) and returns
// what that backend's Open takes: the file path without a sqlite:// or
// bolt:// prefix, or the connection string as given. See Open for the
// rules; Locate reads at most the first 20 bytes of an existing file.
func Locate(dsn string) (name, target string) {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"), libpqKeywords.MatchString(dsn):
		return Postgres, dsn
	case strings.HasPrefix(dsn, "sqlite://"):
		return SQLite, strings.TrimPrefix(dsn, "sqlite://")
	case strings.HasPrefix(dsn, "bolt://"):
		return Bolt, strings.TrimPrefix(dsn, "bolt://")
	}
	if name := sniff(dsn); name != "" {
		return name, dsn
	}
	ext := strings.ToLower(filepath.Ext(dsn))
	for _, e := range sqliteExts {
		if ext == e {
			return SQLite, dsn
		}
	}
	return Bolt, dsn
}

// sniff names the backend of an existing file from its first bytes: "" if
// it cannot be read or is neither a SQLite nor a bolt file.
func sniff(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 20)
	n, _ := io.ReadFull(f, head)
	switch {
	case n >= len(sqliteMagic) && string(head[:len(sqliteMagic)]) == sqliteMagic:
		return SQLite
	case n == 20 && (binary.LittleEndian.Uint32(head[16:]) == boltMagic || binary.BigEndian.Uint32(head[16:]) == boltMagic):
		return Bolt
	}
	return ""
}
